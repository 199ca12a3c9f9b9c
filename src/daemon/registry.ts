/**
 * Targets that come and go at run time (issue 12): registrations with an
 * optional lease, and drains. Pure: the daemon hands in the clock and a saver
 * (batchedSave.ts owns the renewals' batching timer), and the registry answers
 * what compile should see. Registered
 * targets are appended to their balancer's own targets; a name the file
 * already has is refused (the file wins: it is what an operator reviewed).
 */
import type { ResolvedConfig } from "../config/resolved.js";
import { durationMs, targetSchema, type LoadBalancer } from "../config/schema.js";
import { boundedMs, boundedTimeout, mustOwn, mustUse, RegistryError } from "./registrationRules.js";
import type { RegistrationsFile } from "./registrationsFile.js";
import { targetKey } from "../compile/allocate.js";
import { immediateSave, type Saver } from "./batchedSave.js";
import { inputsOf, withRegistered, type RegisteredTarget } from "../compile/inputs.js";
import { callerName, LOCAL_CALLER, type Caller } from "./caller.js";
import { placeProblems, type LinkAddresses } from "./registrationPlace.js";
import { parseTargetKey } from "../model/names.js";

type Target = LoadBalancer["targets"][number];


/** One target as `lb target list` and GET /v1/balancers/LB/targets show it. */
export interface RegisteredView {
  balancer: string;
  name: string;
  source: "file" | "registered";
  state: "serving" | "draining" | "drained";
  registeredAt?: string;
  expiresAt?: string | null;
  /** who registered it: "local" (the socket) or "token NAME" */
  owner?: string;
  drainDeadline?: string;
  target: Target;
}

export { RegistryError } from "./registrationRules.js";

/** What a registration carries besides the target. */
export interface AddOptions {
  /** a lease shorter than the balancer's, as the registrant asks for it */
  lease?: string;
  /** who asks: a token caller may use only its balancers and renews only its own targets */
  caller?: Caller;
  /** the frontend's interfaces and their addresses, read just before: the conduit rules need them */
  links?: LinkAddresses;
}


/** "BALANCER/TARGET", as compile's allocation and the health checks key a target. */
const key = targetKey;

/** Registrations and drains of one daemon. */
export class Registry {
  private data: RegistrationsFile;

  constructor(
    data: RegistrationsFile,
    save: Saver<RegistrationsFile> | ((data: RegistrationsFile) => void),
    private readonly now: () => number = Date.now,
  ) {
    this.data = structuredClone(data);
    this.saver = typeof save === "function" ? immediateSave(save) : save;
  }
  private readonly saver: Saver<RegistrationsFile>;

  /** The config with every registered target appended to its balancer (registrations the config no longer takes are left out). */
  merge(resolved: ResolvedConfig): ResolvedConfig {
    return withRegistered(resolved, inputsOf({ registered: this.registeredTargets() }));
  }

  /** The registered targets, as compile's input (validated with the target schema when added or read). */
  registeredTargets(): RegisteredTarget[] {
    return this.data.registrations.map((r) => ({ balancer: r.balancer, target: r.target as unknown as Target }));
  }

  /** Registered target names ("BALANCER/TARGET"). */
  registered(): Set<string> {
    return new Set(this.data.registrations.map((r) => key(r.balancer, String(r.target.name))));
  }

  /**
   * Registers a target, or renews it (the same name again: a new lease, and the new
   * fields if they changed). Returns true when compile's input changed.
   */
  add(resolved: ResolvedConfig, balancer: string, input: unknown, options: AddOptions = {}): { changed: boolean; view: RegisteredView } {
    const caller = options.caller ?? LOCAL_CALLER;
    const lb = resolved.config.loadBalancers.find((b) => b.name === balancer);
    if (!lb) throw new RegistryError(404, `no load balancer named '${balancer}' in ${resolved.file}`);
    mustUse(caller, balancer);
    if (!lb.registration) throw new RegistryError(409, `load balancer ${balancer} takes no registrations: add 'registration: {}' to it in ${resolved.file}`);
    const parsed = targetSchema.safeParse(input);
    if (!parsed.success) {
      const errors = parsed.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "target"}: ${i.message}`);
      throw new RegistryError(400, `invalid target: ${errors.join("; ")}`, errors);
    }
    const target = parsed.data;
    // a registration is data, never a program: a command check would run as root on this frontend
    if (target.check?.command)
      throw new RegistryError(403, "check.command: a registered target may carry tcp and http checks only; command checks come only from the config file", [
        "check.command: a registered target may carry tcp and http checks only; command checks come only from the config file",
      ]);
    if (!target.via && !target.via6) throw new RegistryError(400, "invalid target: needs via and/or via6");
    if (lb.targets.some((t) => t.name === target.name))
      throw new RegistryError(409, `target ${target.name} is one of ${balancer}'s targets in ${resolved.file}; the file's targets win: register another name or edit the file`);
    const place = placeProblems(resolved.config, lb, target, options.links ?? {});
    if (place.length) throw new RegistryError(403, `target ${target.name} not registered: ${place.join("; ")}`, place);
    let leaseMs: number | null = lb.registration.lease ? durationMs(lb.registration.lease) : null;
    if (options.lease !== undefined) {
      const asked = boundedMs("lease", options.lease, 1000);
      // a target may ask for a shorter lease than the balancer's, never a longer one
      leaseMs = leaseMs === null ? asked : Math.min(leaseMs, asked);
    }
    const existing = this.data.registrations.findIndex((r) => r.balancer === balancer && r.target.name === target.name);
    const owner = existing >= 0 ? (this.data.registrations[existing].owner ?? "local") : callerName(caller);
    if (existing >= 0) mustOwn(caller, owner, balancer, target.name, "renews");
    const others = this.data.registrations.filter((r) => r.balancer === balancer).length - (existing >= 0 ? 1 : 0);
    if (others >= lb.registration.maxTargets) throw new RegistryError(409, `load balancer ${balancer} has ${others} registered targets, its registration.maxTargets`);
    const now = this.now();
    const record = {
      balancer,
      target: target as unknown as Record<string, unknown>,
      registeredAt: existing >= 0 ? this.data.registrations[existing].registeredAt : new Date(now).toISOString(),
      leaseMs,
      expiresAt: leaseMs === null ? null : new Date(now + leaseMs).toISOString(),
      owner,
    };
    const changed = existing < 0 || JSON.stringify(this.data.registrations[existing].target) !== JSON.stringify(record.target);
    const next = structuredClone(this.data);
    if (existing >= 0) next.registrations[existing] = record;
    else next.registrations.push(record);
    this.commit(next);
    return { changed, view: this.view(balancer, target.name, "registered", target)! };
  }

  /** Renews a registration's lease; false when there is none of that name. */
  renew(balancer: string, name: string, caller: Caller = LOCAL_CALLER): RegisteredView | null {
    const r = this.data.registrations.find((x) => x.balancer === balancer && x.target.name === name);
    if (!r) return null;
    mustOwn(caller, this.ownerOf(balancer, name), balancer, name, "renews");
    // in place, not a copy of every registration: a thousand leases renew every few seconds
    r.expiresAt = r.leaseMs === null ? null : new Date(this.now() + r.leaseMs).toISOString();
    // a renewal changes only a deadline: saved with the next batch (a crash loses at most that much of a lease)
    this.saver.soon(() => this.data);
    return this.view(balancer, name, "registered", r.target as unknown as Target);
  }

  /** Removes a registered target at once (its flows move); 404 for names not registered, 409 for the file's own. */
  remove(resolved: ResolvedConfig, balancer: string, name: string, caller: Caller = LOCAL_CALLER): void {
    const lb = resolved.config.loadBalancers.find((b) => b.name === balancer);
    mustUse(caller, balancer);
    if (lb?.targets.some((t) => t.name === name)) throw new RegistryError(409, `target ${name} is in ${resolved.file}: remove it there (or drain it)`);
    if (!this.data.registrations.some((r) => r.balancer === balancer && r.target.name === name)) throw new RegistryError(404, `no registered target ${name} in ${balancer}`);
    mustOwn(caller, this.ownerOf(balancer, name), balancer, name, "removes");
    const next = structuredClone(this.data);
    next.registrations = next.registrations.filter((r) => !(r.balancer === balancer && r.target.name === name));
    next.drains = next.drains.filter((d) => !(d.balancer === balancer && d.target === name));
    this.commit(next);
  }

  /** Starts draining a target (of the file or registered): no new flows; it leaves when its flows end or `timeoutMs` passes. */
  drain(resolved: ResolvedConfig, balancer: string, name: string, timeoutMs?: number, caller: Caller = LOCAL_CALLER): RegisteredView {
    const merged = this.merge(resolved).config.loadBalancers.find((b) => b.name === balancer);
    if (!merged) throw new RegistryError(404, `no load balancer named '${balancer}' in ${resolved.file}`);
    mustUse(caller, balancer);
    const target = merged.targets.find((t) => t.name === name);
    if (!target) throw new RegistryError(404, `no target ${name} in ${balancer}`);
    mustOwn(caller, this.ownerOf(balancer, name), balancer, name, "drains");
    if (timeoutMs !== undefined) boundedTimeout(timeoutMs);
    const now = this.now();
    const limit = timeoutMs ?? durationMs(merged.drainTimeout) ?? 300_000;
    const next = structuredClone(this.data);
    next.drains = next.drains.filter((d) => !(d.balancer === balancer && d.target === name));
    next.drains.push({ balancer, target: name, since: new Date(now).toISOString(), deadline: new Date(now + limit).toISOString() });
    next.drained = next.drained.filter((k) => k !== key(balancer, name));
    this.commit(next);
    return this.view(balancer, name, this.registered().has(key(balancer, name)) ? "registered" : "file", target)!;
  }

  /** Takes a target back: its drain (under way or finished) ends. False when it was not drained. */
  undrain(balancer: string, name: string, caller: Caller = LOCAL_CALLER): boolean {
    const k = key(balancer, name);
    mustUse(caller, balancer);
    mustOwn(caller, this.ownerOf(balancer, name), balancer, name, "undrains");
    const was = this.data.drains.some((d) => key(d.balancer, d.target) === k) || this.data.drained.includes(k);
    if (!was) return false;
    const next = structuredClone(this.data);
    next.drains = next.drains.filter((d) => key(d.balancer, d.target) !== k);
    next.drained = next.drained.filter((x) => x !== k);
    this.commit(next);
    return true;
  }

  /** Drains under way, as compile's input: out of the table, still recalled from flow memory. */
  draining(): Set<string> {
    return new Set(this.data.drains.map((d) => key(d.balancer, d.target)));
  }

  /** The file's targets whose drain finished: out of the table and of the memory, as if down. */
  drained(): Set<string> {
    return new Set(this.data.drained);
  }

  /** Drains with their deadlines, for the daemon's drain watch. */
  drains(): { key: string; deadline: number; since: number }[] {
    return this.data.drains.map((d) => ({ key: key(d.balancer, d.target), deadline: Date.parse(d.deadline), since: Date.parse(d.since) }));
  }

  /** Ends a drain: a registered target goes, a file target stays out until undrained. */
  finishDrain(k: string): void {
    const { balancer, target: name } = parseTargetKey(k);
    const next = structuredClone(this.data);
    next.drains = next.drains.filter((d) => key(d.balancer, d.target) !== k);
    const registered = next.registrations.some((r) => r.balancer === balancer && r.target.name === name);
    if (registered) next.registrations = next.registrations.filter((r) => !(r.balancer === balancer && r.target.name === name));
    else if (!next.drained.includes(k)) next.drained.push(k);
    this.commit(next);
  }

  /** Removes registrations whose lease ran out; returns their keys. */
  expire(): string[] {
    const now = this.now();
    const gone = this.data.registrations.filter((r) => r.expiresAt !== null && Date.parse(r.expiresAt) <= now);
    if (gone.length === 0) return [];
    const keys = new Set(gone.map((r) => key(r.balancer, String(r.target.name))));
    const next = structuredClone(this.data);
    next.registrations = next.registrations.filter((r) => !keys.has(key(r.balancer, String(r.target.name))));
    next.drains = next.drains.filter((d) => !keys.has(key(d.balancer, d.target)));
    this.commit(next);
    return [...keys];
  }

  /** Milliseconds to the next lease expiry or drain deadline; null when nothing waits. */
  nextDeadline(): number | null {
    const times = [...this.data.registrations.flatMap((r) => (r.expiresAt ? [Date.parse(r.expiresAt)] : [])), ...this.data.drains.map((d) => Date.parse(d.deadline))];
    return times.length ? Math.max(0, Math.min(...times) - this.now()) : null;
  }

  /** Every target of every balancer taking registrations or draining, with where it comes from and its state. */
  views(resolved: ResolvedConfig): RegisteredView[] {
    const out: RegisteredView[] = [];
    for (const lb of this.merge(resolved).config.loadBalancers) {
      const registered = this.registered();
      for (const t of lb.targets) out.push(this.view(lb.name, t.name, registered.has(key(lb.name, t.name)) ? "registered" : "file", t)!);
    }
    return out;
  }

  /** One registration as recorded (to put it back), or null. */
  recordOf(balancer: string, name: string): RegistrationsFile["registrations"][number] | null {
    return structuredClone(this.data.registrations.find((r) => r.balancer === balancer && r.target.name === name) ?? null);
  }

  /** Takes back one registration the kernel refused: the record it replaced, or none. Others made meanwhile stay. */
  takeBack(balancer: string, name: string, previous: RegistrationsFile["registrations"][number] | null): void {
    const next = structuredClone(this.data);
    next.registrations = next.registrations.filter((r) => !(r.balancer === balancer && r.target.name === name));
    if (previous) next.registrations.push(previous);
    this.commit(next);
  }

  /** The raw data (tests; the file). */
  snapshot(): RegistrationsFile {
    return structuredClone(this.data);
  }


  /** Who registered the target; null for a target of the file (or none). */
  private ownerOf(balancer: string, name: string): string | null {
    const r = this.data.registrations.find((x) => x.balancer === balancer && x.target.name === name);
    return r ? (r.owner ?? "local") : null;
  }

  private view(balancer: string, name: string, source: "file" | "registered", target: Target): RegisteredView {
    const k = key(balancer, name);
    const r = this.data.registrations.find((x) => key(x.balancer, String(x.target.name)) === k);
    const d = this.data.drains.find((x) => key(x.balancer, x.target) === k);
    return {
      balancer,
      name,
      source,
      state: d ? "draining" : this.data.drained.includes(k) ? "drained" : "serving",
      ...(r ? { registeredAt: r.registeredAt, expiresAt: r.expiresAt, owner: r.owner ?? "local" } : {}),
      ...(d ? { drainDeadline: d.deadline } : {}),
      target,
    };
  }

  /** Saves first: a registration the file does not hold is not made. */
  private commit(next: RegistrationsFile): void {
    this.saver.now(next);
    this.data = next;
  }

  /** Writes what a batch of renewals still holds (the daemon's stop). */
  flush(): void {
    this.saver.flush();
  }
}
