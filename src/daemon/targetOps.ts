/**
 * Targets at run time, as the API asks for them: register (or renew), renew,
 * remove, drain, undrain. Each changes the registry (an owner of the inputs)
 * and asks for a reconcile that includes the change; a registration the
 * kernel refuses is taken back alone, so nothing is half-applied.
 */
import type { ResolvedConfig } from "../config/resolved.js";
import { targetKey } from "../compile/allocate.js";
import { LOCAL_CALLER, type Caller } from "./caller.js";
import { RegistryError, type Registry, type RegisteredView } from "./registry.js";
import type { LinkAddresses } from "./registrationPlace.js";
import type { Reason, TargetChange } from "./reasons.js";
import type { ReconcileRecord } from "./snapshot.js";

/** What the operations need from the daemon. */
export interface TargetOpsHost {
  registry: Registry;
  config(): ResolvedConfig;
  interfaceAddresses(): Promise<LinkAddresses>;
  /** a reconcile that starts after the change (shared with whoever asks meanwhile) */
  reconcile(reasons: Reason[]): Promise<ReconcileRecord>;
  /** checked targets registered while running: their check starts from "down" */
  joining: Set<string>;
  syncChecks(what: string): Promise<void>;
  armDeadlines(soonMs?: number): void;
  log(level: "info" | "warn", fields: Record<string, unknown>): void;
  stopping(): boolean;
}

/** Once stop began, a change would be saved with no reconcile to make it true: refused before it is made. */
function open(host: TargetOpsHost): void {
  if (host.stopping()) throw new RegistryError(503, "the daemon is stopping: nothing is registered, renewed, removed or drained now");
}

const because = (balancer: string, name: string, change: TargetChange): Reason[] => [{ kind: "target", target: targetKey(balancer, name), change }];

/** Registers (or renews) a target and reconciles; a kernel that refuses it gets it taken back (422). */
export async function registerTarget(host: TargetOpsHost, balancer: string, body: unknown, lease?: string, caller: Caller = LOCAL_CALLER): Promise<{ view: RegisteredView; reconcile: ReconcileRecord | null }> {
  open(host);
  const name = typeof (body as { name?: unknown })?.name === "string" ? (body as { name: string }).name : "";
  const previous = host.registry.recordOf(balancer, name);
  // the conduit rules judge the next hop against the frontend's addresses as they are now
  const links = await host.interfaceAddresses();
  const { changed, view } = host.registry.add(host.config(), balancer, body, { lease, caller, links });
  host.armDeadlines();
  if (!changed) return { view, reconcile: null };
  // a checked target that joins takes traffic once its check passes (`up` in a row), not before
  if (!previous && view.target.check) {
    host.joining.add(targetKey(balancer, view.name));
    await host.syncChecks("started");
  }
  host.log("info", { msg: "target registered", target: `${balancer}/${view.name}`, expiresAt: view.expiresAt ?? null });
  const record = await host.reconcile(because(balancer, view.name, "registered"));
  if (record.error) {
    host.registry.takeBack(balancer, view.name, previous);
    await host.reconcile(because(balancer, view.name, "refused"));
    throw new RegistryError(422, `target ${view.name} not registered: the kernel refused it (${record.error})`);
  }
  return { view, reconcile: record };
}

/** Renews a registration's lease. */
export function renewTarget(host: TargetOpsHost, balancer: string, name: string, caller: Caller = LOCAL_CALLER): RegisteredView {
  open(host);
  const view = host.registry.renew(balancer, name, caller);
  if (!view) throw new RegistryError(404, `no registered target ${name} in ${balancer}`);
  host.armDeadlines();
  return view;
}

/** Removes a registered target now (its flows move). */
export async function removeTarget(host: TargetOpsHost, balancer: string, name: string, caller: Caller = LOCAL_CALLER): Promise<ReconcileRecord> {
  open(host);
  host.registry.remove(host.config(), balancer, name, caller);
  host.log("info", { msg: "target removed", target: `${balancer}/${name}` });
  const record = await host.reconcile(because(balancer, name, "removed"));
  await host.syncChecks("restarted");
  return record;
}

/** Drains a target: no new flows now; it leaves when its remembered flows end or the timeout passes. */
export async function drainTarget(host: TargetOpsHost, balancer: string, name: string, timeoutMs?: number, caller: Caller = LOCAL_CALLER): Promise<{ view: RegisteredView; reconcile: ReconcileRecord }> {
  open(host);
  const view = host.registry.drain(host.config(), balancer, name, timeoutMs, caller);
  host.log("info", { msg: "target draining", target: `${balancer}/${name}`, deadline: view.drainDeadline });
  const record = await host.reconcile(because(balancer, name, "draining"));
  host.armDeadlines(0);
  return { view, reconcile: record };
}

/** Ends a target's drain: it takes new flows again. */
export async function undrainTarget(host: TargetOpsHost, balancer: string, name: string, caller: Caller = LOCAL_CALLER): Promise<ReconcileRecord> {
  open(host);
  if (!host.registry.undrain(balancer, name, caller)) throw new RegistryError(404, `target ${name} of ${balancer} is not drained`);
  host.log("info", { msg: "target undrained", target: `${balancer}/${name}` });
  return host.reconcile(because(balancer, name, "undrained"));
}
