/**
 * `symroute run`: applies the config through the engine, then keeps the kernel
 * true. Kernel events that may concern symroute (events.ts) schedule a
 * reconcile after a short quiet time, so a burst gives one; a full reconcile
 * runs every `reconcileInterval` as a safety net; a failing reconcile backs off
 * (one that met only conflicts did not fail: it applied around them).
 * Every reconcile goes through the engine under the state's lock: the daemon
 * never edits the kernel itself, and a conflict with another tool's object is
 * reported, never fought.
 */
import { EventEmitter } from "node:events";
import type { ResolvedConfig } from "../config/resolved.js";
import { StateFileError } from "../engine/index.js";
import { conflictNews, heldKeys } from "./conflictNews.js";
import { reconcile, destroy, status, planConfig, balancerViews, rememberedFlows, interfaceAddresses } from "../engine/index.js";
import { LOCAL_CALLER, type Caller } from "./caller.js";
import { inputsOf, withRegistered, type Inputs } from "../compile/inputs.js";
import type { Plan } from "../plan/plan.js";
import { isEmptyPlan } from "../plan/plan.js";
import { planSummary } from "../plan/format.js";
import { startKernelMonitor, type KernelMonitor } from "../kernel/monitor.js";
import { classifyEvent, heldDestinations, watchScope, type EventKind, type WatchScope } from "./events.js";
import { uplinkChecks, uplinkView, type UplinkHealthView } from "./uplinkHealth.js";
import { targetChecks, targetView, type TargetHealthView } from "./targetHealth.js";
import { ProbedHealth } from "./probedHealth.js";
import { CheckProber } from "../kernel/checkProber.js";
import type { Transition } from "./health.js";
import { deleteConntrackByMark } from "../kernel/conntrack.js";
import { ProcessRunner } from "../kernel/runner.js";
import { BgpAnnouncer } from "./bgp.js";
import type { Config } from "../config/schema.js";
import { Registry, RegistryError, type RegisteredView } from "./registry.js";
import { writeRegistrations } from "../engine/index.js";
import { loadRegistrations } from "./registrationsFile.js";
import { targetKey } from "../compile/allocate.js";
import type { BalancerInfo } from "../model/balancer.js";

/** The longest delay node's timers hold. */
const TIMER_MAX_MS = 2 ** 31 - 1;

/** How the daemon runs. */
export interface DaemonOptions {
  netns?: string;
  /** reads and checks the config file (again on reload) */
  load: () => ResolvedConfig;
  /** the config as already loaded at start (else `load` is called) */
  initial?: ResolvedConfig;
  reconcileIntervalMs: number;
  debounceMs: number;
  /** the longest a reconcile waits behind a stream of events */
  maxDelayMs?: number;
}

/** One reconcile, as the API and logs report it. */
export interface ReconcileRecord {
  at: string;
  reason: string;
  durationMs: number;
  changed: boolean;
  /** what was repaired, e.g. "1 rule added" */
  summary: string | null;
  error: string | null;
  /** time from the first event of the burst to the repaired kernel */
  latencyMs: number | null;
}

/** Objects repaired, by kind: the metric `symroute_repairs_total{kind}`. */
export type RepairKind = "rule" | "route" | "nft" | "sysctl" | "address" | "link";

/** What the daemon knows, for the API and the metrics. */
export interface DaemonSnapshot {
  file: string;
  netns: string | null;
  startedAt: string;
  lastReconcile: ReconcileRecord | null;
  lastRepair: ReconcileRecord | null;
  reconciles: { ok: number; failed: number };
  repairs: Record<RepairKind, number>;
  conflicts: string[];
  /** changes the conflicts hold back ("rule ...", "route ..."): made at the first reconcile after the foreign object goes */
  held: string[];
  events: { seen: number; relevant: number; byKind: Record<EventKind, number> };
  backoffMs: number;
  /** uplinks whose health checks say down now */
  uplinksDown: string[];
  /** load-balancer targets ("BALANCER/TARGET") whose checks fail now: out of the Maglev table */
  targetsDown: string[];
  /** targets draining now, and targets registered at run time ("BALANCER/TARGET") */
  targetsDraining: string[];
  targetsRegistered: string[];
  /** registrations removed because their lease ran out, drains finished (the last 20 of each) */
  leasesExpired: { target: string; at: string }[];
  drainsFinished: { target: string; at: string; why: "flows ended" | "timeout" | "stateless" }[];
  /** the last failovers: an uplink's change of state, and the connections it carried that were deleted */
  failovers: { uplink: string; to: "up" | "down"; at: string; reason: string; connectionsDeleted: number | null }[];
}

function repairsOf(plan: Plan): Partial<Record<RepairKind, number>> {
  return {
    rule: plan.rules.add.length + plan.rules.remove.length,
    route: plan.routes.add.length + plan.routes.remove.length + plan.routes.change.length,
    nft: (plan.nft.action !== "none" ? 1 : 0) + (plan.nftArp.action !== "none" ? 1 : 0),
    sysctl: plan.sysctls.length,
    address: plan.extras.add.length + plan.extras.remove.length,
    link: plan.links.add.length + plan.links.remove.length,
  };
}

/**
 * The daemon. Emits "reconcile" (ReconcileRecord) after each reconcile, "event"
 * (kind, line) for each relevant kernel event, "log" (level, object), and
 * "fatal" (error) when it cannot go on (its state file turned unusable): the
 * caller stops it.
 */
export class Daemon extends EventEmitter {
  private resolved: ResolvedConfig;
  private scope: WatchScope = { tables: new Set(), interfaces: new Set() };
  private monitor: KernelMonitor | null = null;
  private timer: NodeJS.Timeout | null = null;
  private interval: NodeJS.Timeout | null = null;
  private firstEventAt: number | null = null;
  private running: Promise<void> | null = null;
  private again: string | null = null;
  private stopped = false;
  private readonly snap: Omit<DaemonSnapshot, "targetsDraining" | "targetsRegistered">;

  constructor(private readonly options: DaemonOptions) {
    super();
    this.resolved = options.initial ?? options.load();
    this.snap = {
      file: this.resolved.file,
      netns: options.netns ?? null,
      startedAt: new Date().toISOString(),
      lastReconcile: null,
      lastRepair: null,
      reconciles: { ok: 0, failed: 0 },
      repairs: { rule: 0, route: 0, nft: 0, sysctl: 0, address: 0, link: 0 },
      conflicts: [],
      held: [],
      events: { seen: 0, relevant: 0, byKind: { rule: 0, route: 0, link: 0, address: 0, sysctl: 0, nft: 0 } },
      backoffMs: 0,
      uplinksDown: [],
      targetsDown: [],
      leasesExpired: [],
      drainsFinished: [],
      failovers: [],
    };
    this.registry = new Registry(loadRegistrations(options.netns), (data) => writeRegistrations(data, options.netns));
    this.prober = new CheckProber(options.netns);
    this.health = new ProbedHealth(options.netns, (uplink, t) => this.onTransition(uplink, t), this.prober);
    this.targets = new ProbedHealth(options.netns, (key, t) => {
      this.snap.targetsDown = [...this.targets.down()].sort();
      if (t.to === "up") this.joining.delete(key);
      this.log(t.to === "down" ? "warn" : "info", { msg: `target ${t.to}`, target: key, reason: t.reason });
      this.emit("target", key, t);
      this.bgp?.nudge();
      // a dead target leaves the table at once (stable: only its entries move)
      this.schedule(`target ${key} ${t.to}`, 0);
    }, this.prober);
  }

  private readonly targets: ProbedHealth;
  /** one process for every TCP, HTTP and command check of uplinks and targets (issue 17: a node process per target cost 51 MB each) */
  private readonly prober: CheckProber;
  private readonly registry: Registry;
  /** checked targets registered while running: their check starts from "down" */
  private readonly joining = new Set<string>();
  private deadlineTimer: NodeJS.Timeout | null = null;

  /** The config with the registered targets in, as compile sees it: what the checks and the BGP speaker see. */
  effective(): ResolvedConfig {
    return withRegistered(this.resolved, this.inputs());
  }

  /** Compile's inputs beside the config, one value from their owners: health (uplinks, targets) and the registry. */
  inputs(): Inputs {
    return inputsOf({
      uplinksDown: this.health.down(),
      targetsDown: this.targets.down(),
      targetsDraining: this.registry.draining(),
      targetsDrained: this.registry.drained(),
      registered: this.registry.registeredTargets(),
    });
  }

  /** The balancers as applied, each target with its check's health (null without a check) and where it comes from. */
  async balancers() {
    const health = new Map(this.targetHealth().map((h) => [h.key, h]));
    const registered = this.registry.registered();
    const drained = this.registry.drained();
    return (await balancerViews({ netns: this.options.netns })).map((b) => ({
      ...b,
      targets: b.targets.map((t) => {
        const k = targetKey(b.name, t.name);
        return { ...t, ...(drained.has(k) ? { state: "drained" as const } : {}), ...(registered.has(k) ? { source: "registered" as const } : {}), health: health.get(k) ?? null };
      }),
    }));
  }

  /** Every target of the balancers with where it comes from (file or registered), its lease and drain. */
  targetList(): RegisteredView[] {
    return this.registry.views(this.resolved);
  }

  /**
   * Registers (or renews) a target and reconciles; a reconcile that fails with it
   * takes it back out, so a bad registration never leaves the kernel half-changed.
   */
  async registerTarget(balancer: string, body: unknown, lease?: string, caller: Caller = LOCAL_CALLER): Promise<{ view: RegisteredView; reconcile: ReconcileRecord | null }> {
    const name = typeof (body as { name?: unknown })?.name === "string" ? (body as { name: string }).name : "";
    const previous = this.registry.recordOf(balancer, name);
    // the conduit rules judge the next hop against the frontend's addresses as they are now
    const links = await interfaceAddresses({ netns: this.options.netns });
    const { changed, view } = this.registry.add(this.resolved, balancer, body, { lease, caller, links });
    this.armDeadlines();
    if (!changed) return { view, reconcile: null };
    // a checked target that joins takes traffic once its check passes (`up` in a row), not before
    if (!previous && view.target.check) {
      this.joining.add(targetKey(balancer, view.name));
      await this.syncChecks("started");
    }
    this.log("info", { msg: "target registered", target: `${balancer}/${view.name}`, expiresAt: view.expiresAt ?? null });
    const record = await this.reconcileIncluding(`target ${balancer}/${view.name} registered`);
    if (record.error) {
      this.registry.takeBack(balancer, view.name, previous);
      await this.reconcileIncluding(`target ${balancer}/${view.name} refused`);
      throw new RegistryError(422, `target ${view.name} not registered: the kernel refused it (${record.error})`);
    }
    return { view, reconcile: record };
  }

  /**
   * A reconcile that starts after the caller's change. With none under way it runs
   * now; else every caller that comes during the one under way shares the next, so
   * a burst of registrations costs two reconciles, not one each.
   */
  private reconcileIncluding(reason: string): Promise<ReconcileRecord> {
    if (!this.running) return this.reconcileNow(reason);
    this.nextReasons.push(reason);
    this.next ??= (async () => {
      while (this.running) await this.running;
      const reasons = this.nextReasons.splice(0);
      this.next = null;
      return this.reconcileNow(reasons.length > 3 ? `${reasons.length} target changes` : reasons.join(", "));
    })();
    return this.next;
  }
  private next: Promise<ReconcileRecord> | null = null;
  private readonly nextReasons: string[] = [];

  /** Renews a registration's lease. */
  renewTarget(balancer: string, name: string, caller: Caller = LOCAL_CALLER): RegisteredView {
    const view = this.registry.renew(balancer, name, caller);
    if (!view) throw new RegistryError(404, `no registered target ${name} in ${balancer}`);
    this.armDeadlines();
    return view;
  }

  /** Removes a registered target now. */
  async removeTarget(balancer: string, name: string, caller: Caller = LOCAL_CALLER): Promise<ReconcileRecord> {
    this.registry.remove(this.resolved, balancer, name, caller);
    this.log("info", { msg: "target removed", target: `${balancer}/${name}` });
    const record = await this.reconcileIncluding(`target ${balancer}/${name} removed`);
    await this.syncChecks("restarted");
    return record;
  }

  /** Drains a target: no new flows now; it leaves when its remembered flows end or the timeout passes. */
  async drainTarget(balancer: string, name: string, timeoutMs?: number, caller: Caller = LOCAL_CALLER): Promise<{ view: RegisteredView; reconcile: ReconcileRecord }> {
    const view = this.registry.drain(this.resolved, balancer, name, timeoutMs, caller);
    this.log("info", { msg: "target draining", target: `${balancer}/${name}`, deadline: view.drainDeadline });
    const record = await this.reconcileIncluding(`target ${balancer}/${name} draining`);
    this.armDeadlines(0);
    return { view, reconcile: record };
  }

  /** Ends a target's drain: it takes new flows again. */
  async undrainTarget(balancer: string, name: string, caller: Caller = LOCAL_CALLER): Promise<ReconcileRecord> {
    if (!this.registry.undrain(balancer, name, caller)) throw new RegistryError(404, `target ${name} of ${balancer} is not drained`);
    this.log("info", { msg: "target undrained", target: `${balancer}/${name}` });
    return this.reconcileIncluding(`target ${balancer}/${name} undrained`);
  }

  /** Leases and drains are checked when the next one is due, and every second while a drain waits for its flows. */
  private armDeadlines(soonMs?: number): void {
    if (this.stopped) return;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    const next = this.registry.nextDeadline();
    const waits = [next, this.registry.drains().length ? 1000 : null, soonMs ?? null].filter((x): x is number => x !== null);
    if (waits.length === 0) return;
    // never past what a timer holds (2^31 - 1 ms; beyond it node fires at once, in a loop): a deadline
    // further away than that is looked at again when this one fires
    this.deadlineTimer = setTimeout(() => void this.onDeadlines(), Math.min(TIMER_MAX_MS, Math.min(...waits) + 5));
  }

  private async onDeadlines(): Promise<void> {
    this.deadlineTimer = null;
    const reasons: string[] = [];
    const at = new Date().toISOString();
    for (const k of this.registry.expire()) {
      this.snap.leasesExpired = [...this.snap.leasesExpired.slice(-19), { target: k, at }];
      this.log("warn", { msg: "lease expired; target removed", target: k });
      this.emit("leaseExpired", k);
      reasons.push(`lease of ${k} expired`);
    }
    const drains = this.registry.drains();
    if (drains.length) {
      const memory = new Set(this.lastBalancers.filter((b) => b.flowMemory).map((b) => b.name));
      const counts = await rememberedFlows(new ProcessRunner(this.options.netns), this.lastBalancers).catch(() => new Map<string, number>());
      for (const d of drains) {
        const kept = memory.has(d.key.split("/")[0]) && counts.has(d.key);
        const left = counts.get(d.key) ?? 0;
        const why = !kept ? ("stateless" as const) : Date.now() >= d.deadline ? ("timeout" as const) : left === 0 ? ("flows ended" as const) : null;
        if (!why) continue;
        this.registry.finishDrain(d.key);
        this.snap.drainsFinished = [...this.snap.drainsFinished.slice(-19), { target: d.key, at, why }];
        this.log("info", { msg: "drain finished; target left", target: d.key, why, flowsLeft: left });
        reasons.push(`drain of ${d.key} finished`);
      }
    }
    if (reasons.length) {
      await this.reconcileNow(reasons.join(", "));
      await this.syncChecks("restarted");
    }
    this.armDeadlines();
  }

  /** The balancers as last applied (marks, chains, flow memory): the drain watch counts their remembered flows. */
  private lastBalancers: BalancerInfo[] = [];

  /** Health of the checked load-balancer targets. */
  targetHealth(): TargetHealthView[] {
    return this.targets.views().map(targetView);
  }

  private readonly health: ProbedHealth;
  /** uplinks that went down: their connections are deleted once the reconcile moved new ones elsewhere */
  private readonly flushAfter = new Set<string>();

  /** Health of the checked uplinks. */
  uplinkHealth(): UplinkHealthView[] {
    return this.health.views().map(uplinkView);
  }

  private onTransition(uplink: string, t: Transition): void {
    this.snap.uplinksDown = [...this.health.down()].sort();
    this.snap.failovers = [...this.snap.failovers.slice(-19), { uplink, to: t.to, at: new Date().toISOString(), reason: t.reason, connectionsDeleted: null }];
    this.log(t.to === "down" ? "warn" : "info", { msg: `uplink ${t.to}`, uplink, reason: t.reason });
    this.emit("uplink", uplink, t);
    if (t.to === "down") this.flushAfter.add(uplink);
    else this.flushAfter.delete(uplink);
    // a failover does not wait for quiet: new connections must leave by the others now
    this.schedule(`uplink ${uplink} ${t.to}`, 0);
  }

  /** What the daemon knows now. */
  snapshot(): DaemonSnapshot {
    // drains and registrations are the registry's: read from it, not kept twice
    return { ...structuredClone(this.snap), targetsDraining: [...this.registry.draining()].sort(), targetsRegistered: [...this.registry.registered()].sort() };
  }

  /** The config in force. */
  config(): ResolvedConfig {
    return this.resolved;
  }

  /** Applies the config once, then starts watching. Resolves with the first reconcile (which may have failed). */
  async start(): Promise<ReconcileRecord> {
    // the BGP speaker first, announcing nothing: its sessions come up while the ruleset loads (issue 13)
    this.bgp = await BgpAnnouncer.start({ netns: this.options.netns, config: () => this.effective().config, applied: () => this.appliedConfig, targets: () => this.targetHealth(), log: (l, f) => this.log(l, f) });
    this.monitor = startKernelMonitor(
      this.options.netns,
      (source, line) => this.onLine(source, line),
      (source, why) => this.log("warn", { msg: "monitor restarted", source, why }),
      (source, why) => {
        // events were dropped by the kernel: anything may have changed, so compare everything now
        this.log("warn", { msg: "kernel events lost; full reconcile", source, why });
        this.schedule("events lost", this.options.debounceMs, true);
      },
    );
    await this.monitor.started;
    const first = await this.reconcileNow("start");
    await this.syncChecks("started");
    this.interval = setInterval(() => this.schedule("interval", 0, true), this.options.reconcileIntervalMs);
    // leases that ran out while the daemon was away go now; drains go on where they were
    this.armDeadlines(0);
    return first;
  }

  /** Stops watching; with `destroyKernel` removes symroute's objects (else they stay: routing outlives the daemon). */
  async stop(destroyKernel = false): Promise<void> {
    this.stopped = true;
    // withdraw the VIPs and let the router converge before anything else stops
    await this.bgp?.stop();
    if (this.timer) clearTimeout(this.timer);
    if (this.interval) clearInterval(this.interval);
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.registry.flush();
    await this.monitor?.stop();
    await this.health.stop();
    await this.targets.stop();
    await this.prober.stop();
    await this.running;
    if (destroyKernel) await destroy({ netns: this.options.netns });
  }

  /** Re-reads the config; an invalid one leaves everything as it is and throws its errors. */
  async reload(): Promise<ReconcileRecord> {
    const next = this.options.load();
    this.resolved = next;
    this.snap.file = next.file;
    this.log("info", { msg: "config reloaded", file: next.file });
    const record = await this.reconcileNow("reload");
    await this.syncChecks("restarted");
    return record;
  }

  /** The plan the kernel would need now (nothing applied). */
  async plan(): Promise<Plan> {
    return (await planConfig(() => this.resolved, { netns: this.options.netns, inputs: this.inputs() })).plan;
  }

  /** status of the engine, for the API. */
  async engineStatus() {
    const { driftPlan: _p, ...s } = await status({ netns: this.options.netns });
    return s;
  }

  private onLine(source: "ip" | "nft", line: string): void {
    this.snap.events.seen += 1;
    const kind = classifyEvent(source, line, this.scope);
    if (!kind) return;
    this.snap.events.relevant += 1;
    this.snap.events.byKind[kind] += 1;
    this.emit("event", kind, line);
    // while a reconcile fails, events (its own rollback's among them) wait out the backoff; link and address
    // events do not: a link coming back, or its address, is the news a failing repair waits for
    this.schedule(`${kind} event`, this.options.debounceMs, kind !== "link" && kind !== "address");
  }

  /**
   * Runs a reconcile after `delay` ms of quiet, at most `maxDelayMs` after the
   * first event of a burst; with `respectBackoff`, not before the backoff of a
   * failing reconcile has passed.
   */
  private schedule(reason: string, delay: number, respectBackoff = false): void {
    if (this.stopped) return;
    const now = Date.now();
    this.firstEventAt ??= now;
    const maxDelay = this.options.maxDelayMs ?? 250;
    const wait = respectBackoff && this.snap.backoffMs > 0 ? Math.max(delay, (this.lastFailureAt ?? now) + this.snap.backoffMs - now) : Math.min(delay, this.firstEventAt + maxDelay - now);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.reconcileNow(reason), Math.max(0, wait));
  }

  private lastFailureAt: number | null = null;
  /** BGP announcements of the ready VIPs (null without `bgp`), and the config last applied without error */
  private bgp: BgpAnnouncer | null = null;
  private appliedConfig: Config | null = null;

  /** What the BGP speaker announces now, and its sessions (null without `bgp`). */
  async bgpStatus() {
    return (await this.bgp?.status()) ?? null;
  }
  private lastWarnings = "";
  private raceRetried = false;

  /** Reconciles now, or once more right after the one under way. */
  async reconcileNow(reason: string): Promise<ReconcileRecord> {
    if (this.running) {
      this.again = reason;
      await this.running;
      return this.snap.lastReconcile!;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const eventAt = this.firstEventAt;
    this.firstEventAt = null;
    let record!: ReconcileRecord;
    this.running = (async () => {
      const started = Date.now();
      try {
        // around conflicts: a foreign object holds back only the changes it stands on, and the rest is repaired now
        const result = await reconcile({ netns: this.options.netns, load: () => this.resolved, waitMs: 60_000, allowConflicts: true, inputs: this.inputs() });
        this.lastBalancers = result.outcome.state.applied?.desired.balancers ?? [];
        this.scope = {
          ...watchScope(this.resolved, result.outcome.state.applied?.desired ?? { rules: [], routes: [], sysctls: [], nft: null, links: [], requires: [] }),
          held: heldDestinations(result.outcome.plan.held.routes),
        };
        const o = result.outcome;
        const news = conflictNews(this.snap, o.plan);
        if (news) this.log(news.level, news.fields);
        this.snap.conflicts = o.plan.conflicts;
        this.snap.held = heldKeys(o.plan);
        // warnings (an uplink down, an interface missing) are logged when they change, not on every reconcile
        const warnings = result.warnings.join("\n");
        if (warnings !== this.lastWarnings) {
          this.lastWarnings = warnings;
          if (result.warnings.length) this.log("warn", { msg: "config warnings", warnings: result.warnings });
        }
        if (o.rolledBack) throw new Error(`apply failed and was rolled back (${o.rolledBack.restored ? "kernel as before" : "rollback incomplete"}): ${o.rolledBack.error}`);
        const done = Date.now();
        record = { at: new Date(done).toISOString(), reason, durationMs: done - started, changed: o.changed, summary: o.changed && !isEmptyPlan(o.plan) ? planSummary(o.plan) : null, error: null, latencyMs: eventAt !== null ? done - eventAt : null };
        this.snap.reconciles.ok += 1;
        this.snap.backoffMs = 0;
        this.raceRetried = false;
        this.appliedConfig = this.resolved.config;
        this.bgp?.nudge();
        if (o.changed) {
          for (const [k, n] of Object.entries(repairsOf(o.plan))) this.snap.repairs[k as RepairKind] += n ?? 0;
          this.snap.lastRepair = record;
        }
        await this.afterReconcile(reason, result.outcome.state.applied?.desired.marks);
        this.log(o.changed ? "info" : "debug", { msg: o.changed ? "repaired" : "no drift", reason, changed: o.changed, summary: record.summary, durationMs: record.durationMs, latencyMs: record.latencyMs });
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        // a state file it cannot read fails every reconcile alike: not a failure to back off from, an end (run.ts exits non-zero)
        if (e instanceof StateFileError) this.emit("fatal", e);
        const done = Date.now();
        record = { at: new Date(done).toISOString(), reason, durationMs: done - started, changed: false, summary: null, error, latencyMs: null };
        this.snap.reconciles.failed += 1;
        // the first retry comes soon: a failure is often a race with a change made during the apply (verify saw
        // it, or an object added by hand meanwhile made ours fail with "File exists"); a race retries at once
        // (once: a failure that repeats is no race, and backs off)
        const race = /File exists|No such file or directory|No such process|verify: kernel does not match/.test(error) && !this.raceRetried;
        this.raceRetried = race;
        this.snap.backoffMs = race ? 0 : Math.min(30_000, this.snap.backoffMs ? this.snap.backoffMs * 2 : 100);
        this.lastFailureAt = done;
        this.log("error", { msg: "reconcile failed", reason, error, retryInMs: this.snap.backoffMs });
        this.schedule("retry", this.snap.backoffMs, true);
      }
      this.snap.lastReconcile = record;
      this.emit("reconcile", record);
    })();
    await this.running;
    this.running = null;
    if (this.again && !this.stopped) {
      const why = this.again;
      this.again = null;
      // events met during a failing reconcile (its own rollback's among them) wait out its backoff
      this.schedule(why, this.options.debounceMs, true);
    }
    return record;
  }

  /** After a good reconcile: the dead uplinks' connections go (new ones already leave elsewhere); probes follow moved addresses. */
  private async afterReconcile(reason: string, marks: { mask: number; uplinks: { name: string; mark: number }[] } | undefined): Promise<void> {
    for (const uplink of [...this.flushAfter]) {
      this.flushAfter.delete(uplink);
      const mark = marks?.uplinks.find((u) => u.name === uplink)?.mark;
      if (mark === undefined || !marks) continue;
      const deleted = await deleteConntrackByMark(new ProcessRunner(this.options.netns), mark, marks.mask).catch((e: unknown) => {
        this.log("error", { msg: "conntrack entries not deleted", uplink, error: (e as Error).message });
        return null;
      });
      const last = [...this.snap.failovers].reverse().find((f) => f.uplink === uplink && f.to === "down");
      if (last) last.connectionsDeleted = deleted;
      this.log("info", { msg: "connections of a dead uplink deleted", uplink, deleted });
    }
    if (/address|link/.test(reason)) await this.syncChecks("retargeted");
  }

  /** Brings the uplinks' and targets' probers in step with the config in force and the addresses now. */
  private async syncChecks(what: string): Promise<void> {
    try {
      await this.health.sync(await uplinkChecks(this.resolved, this.options.netns));
      const checks = await targetChecks(this.effective(), this.options.netns);
      await this.targets.sync(checks.map((c) => (this.joining.has(c.key) ? { ...c, initial: "down" as const } : c)));
      for (const k of this.joining) if (!checks.some((c) => c.key === k)) this.joining.delete(k);
      this.snap.targetsDown = [...this.targets.down()].sort();
    } catch (e) {
      this.log("error", { msg: `health checks not ${what}`, error: (e as Error).message });
    }
  }

  private log(level: "debug" | "info" | "warn" | "error", fields: Record<string, unknown>): void {
    this.emit("log", level, fields);
  }
}
