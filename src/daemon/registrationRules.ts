/**
 * The registry's refusals as data the API answers with (status and the field
 * each error is about), and the rules that are not about a target's place:
 * bounded durations and who owns a registration (issue 17).
 */
import { durationMs, formatBound, MAX_DURATION_MS } from "../config/schema.js";
import { callerMayUse, callerName, type Caller } from "./caller.js";

/** A refusal the API answers with its status code. */
export class RegistryError extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 409 | 422 | 503,
    message: string,
    readonly errors: string[] = [message],
  ) {
    super(message);
  }
}

/** Refuses a duration beyond what anything in symroute waits for (a day): no timer is armed past what it holds. */
export function boundedMs(field: string, text: string, min: number): number {
  const ms = durationMs(text);
  if (ms === null || ms < min || ms > MAX_DURATION_MS)
    throw new RegistryError(400, `${field}: must be a duration between ${formatBound(min)} and ${formatBound(MAX_DURATION_MS)} such as 30s or 5m; got ${JSON.stringify(text)}`);
  return ms;
}

/**
 * A token caller acts only on targets it registered: another registrant's
 * targets and the file's (which only the local socket drains) are refused.
 * `owner` is the registration's owner, or null for a target of the file.
 */
export function mustOwn(caller: Caller, owner: string | null, balancer: string, name: string, verb: string): void {
  if (caller.kind === "local") return;
  if (owner === null) throw new RegistryError(403, `target ${name} of ${balancer} is the config file's: only the local socket ${verb} it (symroute lb target on the frontend)`);
  if (owner !== callerName(caller)) throw new RegistryError(403, `target ${name} of ${balancer} was registered by another registrant; a registrant ${verb} only its own targets`);
}

/** A drain's timeout as asked over the API, in ms: at most a day like every duration. */
export function boundedTimeout(ms: number): number {
  if (!(ms >= 0 && ms <= MAX_DURATION_MS)) throw new RegistryError(400, `timeout: must be between 0s and ${formatBound(MAX_DURATION_MS)}; got ${ms} ms`);
  return ms;
}

/** A token caller may act only on the balancers its token names. */
export function mustUse(caller: Caller, balancer: string): void {
  if (!callerMayUse(caller, balancer)) throw new RegistryError(403, `${callerName(caller)} may not use balancer ${balancer}`);
}
