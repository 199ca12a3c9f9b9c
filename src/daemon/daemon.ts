/**
 * `symroute run`: applies the config through the engine, then keeps the kernel
 * true. A loop over inputs (issue 18): kernel events, health transitions,
 * registrations and the periodic full reconcile are requests to one runner
 * (scheduler.ts: coalescing, debounce, backoff, retries by an error's kind);
 * health and the registry own the inputs (inputs.ts) that compile sees beside
 * the file; the engine, the one writer, applies them under the state's lock.
 * Everything the daemon does to the world comes through `deps` (deps.ts), so
 * its races are tested without namespaces. After stop begins nothing new
 * starts: no reconcile, probe, monitor or speaker.
 */
import { EventEmitter } from "node:events";
import type { ResolvedConfig } from "../config/resolved.js";
import type { Config } from "../config/schema.js";
import { StateFileError } from "../engine/index.js";
import { inputsOf, withRegistered, type Inputs } from "../compile/inputs.js";
import { targetKey } from "../compile/allocate.js";
import type { Plan } from "../plan/plan.js";
import { isEmptyPlan } from "../plan/plan.js";
import { planSummary } from "../plan/format.js";
import type { BalancerInfo } from "../model/balancer.js";
import { kindOf, type ErrorKind } from "../model/errorKind.js";
import type { KernelMonitor } from "../engine/index.js";
import { classifyEvent, heldDestinations, watchScope, type WatchScope } from "./events.js";
import { conflictNews, heldKeys } from "./conflictNews.js";
import { uplinkView, type UplinkHealthView } from "./uplinkHealth.js";
import { targetView, type TargetHealthView } from "./targetHealth.js";
import type { Transition } from "./health.js";
import { Registry, type RegisteredView } from "./registry.js";
import { LOCAL_CALLER, type Caller } from "./caller.js";
import { ReconcileRunner, type RunKind } from "./scheduler.js";
import { movesAddresses, reasonsText, type Reason } from "./reasons.js";
import { realDeps, type DaemonDeps, type HealthSet, type Speaker } from "./deps.js";
import { DeadlineWatch } from "./deadlines.js";
import * as ops from "./targetOps.js";
import { initialSnapshot, last20, repairsOf, type DaemonSnapshot, type ReconcileRecord, type RepairKind } from "./snapshot.js";

export type { DaemonSnapshot, ReconcileRecord, RepairKind } from "./snapshot.js";

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
  /** the world the daemon acts on; tests hand in fakes */
  deps?: DaemonDeps;
}

/** The longest the children (monitors, probers) get to stop before the daemon goes on without them: they die with it anyway. */
const CHILDREN_DEADLINE_MS = 2000;

const EMPTY_DESIRED = { rules: [], routes: [], sysctls: [], nft: null, links: [], requires: [] };

/**
 * The daemon. Emits "reconcile" (ReconcileRecord) after each reconcile, "event"
 * (kind, line) for each relevant kernel event, "uplink" and "target" (key,
 * transition), "leaseExpired" (key), "log" (level, object), and "fatal"
 * (error) when it cannot go on (its state file turned unusable).
 */
export class Daemon extends EventEmitter {
  private resolved: ResolvedConfig;
  private readonly deps: DaemonDeps;
  private readonly snap: Omit<DaemonSnapshot, "targetsDraining" | "targetsRegistered">;
  private readonly registry: Registry;
  private readonly checks: { uplinks: HealthSet; targets: HealthSet; stop(): Promise<void> };
  private readonly runner: ReconcileRunner<Reason, ReconcileRecord>;
  private readonly deadlines: DeadlineWatch;
  private readonly opsHost: ops.TargetOpsHost;
  private scope: WatchScope = { tables: new Set(), interfaces: new Set() };
  private monitor: KernelMonitor | null = null;
  private speaker: Speaker | null = null;
  private stopping = false;
  /** the balancers and the config as last applied without error */
  private lastBalancers: BalancerInfo[] = [];
  private appliedConfig: Config | null = null;
  private lastWarnings = "";
  /** uplinks that went down: their connections are deleted once a reconcile moved new ones elsewhere */
  private readonly flushAfter = new Set<string>();
  /** checked targets registered while running: their check starts from "down" */
  private readonly joining = new Set<string>();

  constructor(private readonly options: DaemonOptions) {
    super();
    this.deps = options.deps ?? realDeps();
    const { clock } = this.deps;
    this.resolved = options.initial ?? options.load();
    this.snap = initialSnapshot(this.resolved.file, options.netns, clock.now());
    this.registry = new Registry(this.deps.loadRegistrations(options.netns), (data) => this.deps.saveRegistrations(data, options.netns), () => clock.now());
    this.checks = this.deps.health(options.netns, (uplink, t) => this.onUplink(uplink, t), (key, t) => this.onTarget(key, t));
    this.runner = new ReconcileRunner<Reason, ReconcileRecord>({
      clock,
      debounceMs: options.debounceMs,
      maxDelayMs: options.maxDelayMs ?? 250,
      intervalMs: options.reconcileIntervalMs,
      run: (reasons, _full, since) => this.reconcileOnce(reasons, since),
      intervalReason: { kind: "interval" },
      retryReason: { kind: "retry" },
      settled: (kind, backoffMs) => this.settled(kind, backoffMs),
    });
    this.deadlines = new DeadlineWatch({
      clock,
      registry: this.registry,
      balancers: () => this.lastBalancers,
      rememberedFlows: (balancers) => this.deps.rememberedFlows(options.netns, balancers),
      leaseExpired: (key) => {
        this.snap.leasesExpired = last20(this.snap.leasesExpired, { target: key, at: new Date(clock.now()).toISOString() });
        this.log("warn", { msg: "lease expired; target removed", target: key });
        this.emit("leaseExpired", key);
      },
      drainFinished: (key, why, flowsLeft) => {
        this.snap.drainsFinished = last20(this.snap.drainsFinished, { target: key, at: new Date(clock.now()).toISOString(), why });
        this.log("info", { msg: "drain finished; target left", target: key, why, flowsLeft });
      },
      reconcile: async (reasons) => {
        await this.reconcileIncluding(reasons);
        await this.syncChecks("restarted");
      },
      stopping: () => this.stopping,
    });
    this.opsHost = {
      registry: this.registry,
      config: () => this.resolved,
      interfaceAddresses: () => this.deps.interfaceAddresses(options.netns),
      reconcile: (reasons) => this.reconcileIncluding(reasons),
      joining: this.joining,
      syncChecks: (what) => this.syncChecks(what),
      armDeadlines: (soonMs) => this.deadlines.arm(soonMs),
      log: (level, fields) => this.log(level, fields),
    };
  }

  /** Compile's inputs beside the config, one value from their owners: health (uplinks, targets) and the registry. */
  inputs(): Inputs {
    return inputsOf({
      uplinksDown: this.checks.uplinks.down(),
      targetsDown: this.checks.targets.down(),
      targetsDraining: this.registry.draining(),
      targetsDrained: this.registry.drained(),
      registered: this.registry.registeredTargets(),
    });
  }

  /** The config with the registered targets in, as compile sees it: what the checks and the BGP speaker see. */
  effective(): ResolvedConfig {
    return withRegistered(this.resolved, this.inputs());
  }

  /** The config in force. */
  config(): ResolvedConfig {
    return this.resolved;
  }

  /** What the daemon knows now (its own state; drains and registrations are the registry's). */
  snapshot(): DaemonSnapshot {
    return { ...structuredClone(this.snap), backoffMs: this.runner.backoffMs(), targetsDraining: [...this.registry.draining()].sort(), targetsRegistered: [...this.registry.registered()].sort() };
  }

  /** Applies the config once, then starts watching. Resolves with the first reconcile (which may have failed). */
  async start(): Promise<ReconcileRecord> {
    const { netns } = this.options;
    // the BGP speaker first, announcing nothing: its sessions come up while the ruleset loads (issue 13)
    this.speaker = await this.deps.speaker({ netns, config: () => this.effective().config, applied: () => this.appliedConfig, targets: () => this.targetHealth(), log: (l, f) => this.log(l, f) });
    this.monitor = this.deps.monitor(
      netns,
      (source, line) => this.onLine(source, line),
      (source, why) => this.log("warn", { msg: "monitor restarted", source, why }),
      (source, why) => {
        // events were dropped by the kernel: anything may have changed, so compare everything
        this.log("warn", { msg: "kernel events lost; full reconcile", source, why });
        this.runner.request([{ kind: "events lost" }], { full: true });
      },
    );
    await this.monitor.started;
    const first = await this.runner.runNow([{ kind: "start" }], true);
    await this.syncChecks("started");
    this.runner.start();
    // leases that ran out while the daemon was away go now; drains go on where they were
    this.deadlines.arm(0);
    return first;
  }

  /** Stops: nothing new starts, the reconcile in flight ends, then every child; with `destroyKernel` symroute's objects go too. */
  async stop(destroyKernel = false): Promise<void> {
    this.stopping = true;
    // withdraw the VIPs and let the router converge before anything else stops
    await this.speaker?.stop();
    await this.runner.stop();
    await this.deadlines.stop();
    this.registry.flush();
    await this.syncing;
    let deadline: unknown = null;
    const children = Promise.all([this.monitor?.stop(), this.checks.stop()]);
    await Promise.race([children, new Promise((r) => (deadline = this.deps.clock.setTimeout(() => r(null), CHILDREN_DEADLINE_MS)))]);
    this.deps.clock.clearTimeout(deadline);
    if (destroyKernel) await this.deps.destroy({ netns: this.options.netns });
  }

  /** Re-reads the config; an invalid one leaves everything as it is and throws its errors. */
  async reload(): Promise<ReconcileRecord> {
    const next = this.options.load();
    this.resolved = next;
    this.snap.file = next.file;
    this.log("info", { msg: "config reloaded", file: next.file });
    const record = await this.runner.runNow([{ kind: "reload" }], true);
    await this.syncChecks("restarted");
    return record;
  }

  /** The plan the kernel would need now (nothing applied). */
  async plan(): Promise<Plan> {
    return (await this.deps.plan(() => this.resolved, { netns: this.options.netns, inputs: this.inputs() })).plan;
  }

  /** The engine's status, for the API. */
  async engineStatus() {
    const { driftPlan: _p, ...s } = await this.deps.status({ netns: this.options.netns });
    return s;
  }

  /** What the BGP speaker announces now, and its sessions (null without `bgp`). */
  async bgpStatus() {
    return (await this.speaker?.status()) ?? null;
  }

  /** The balancers as applied, each target with its check's health (null without a check) and where it comes from. */
  async balancers() {
    const health = new Map(this.targetHealth().map((h) => [h.key, h]));
    const registered = this.registry.registered();
    const drained = this.registry.drained();
    return (await this.deps.balancerViews({ netns: this.options.netns })).map((b) => ({
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

  registerTarget(balancer: string, body: unknown, lease?: string, caller: Caller = LOCAL_CALLER) {
    return ops.registerTarget(this.opsHost, balancer, body, lease, caller);
  }
  renewTarget(balancer: string, name: string, caller: Caller = LOCAL_CALLER) {
    return ops.renewTarget(this.opsHost, balancer, name, caller);
  }
  removeTarget(balancer: string, name: string, caller: Caller = LOCAL_CALLER) {
    return ops.removeTarget(this.opsHost, balancer, name, caller);
  }
  drainTarget(balancer: string, name: string, timeoutMs?: number, caller: Caller = LOCAL_CALLER) {
    return ops.drainTarget(this.opsHost, balancer, name, timeoutMs, caller);
  }
  undrainTarget(balancer: string, name: string, caller: Caller = LOCAL_CALLER) {
    return ops.undrainTarget(this.opsHost, balancer, name, caller);
  }

  /** Health of the checked uplinks and load-balancer targets. */
  uplinkHealth(): UplinkHealthView[] {
    return this.checks.uplinks.views().map(uplinkView);
  }
  targetHealth(): TargetHealthView[] {
    return this.checks.targets.views().map(targetView);
  }

  /** A reconcile that starts after the caller's change (a burst of callers shares one). */
  private reconcileIncluding(reasons: Reason[]): Promise<ReconcileRecord> {
    return this.runner.runNow(reasons);
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
    this.runner.request([{ kind: "kernel event", object: kind }], { urgent: kind === "link" || kind === "address" });
  }

  private onUplink(uplink: string, t: Transition): void {
    this.snap.uplinksDown = [...this.checks.uplinks.down()].sort();
    this.snap.failovers = last20(this.snap.failovers, { uplink, to: t.to, at: new Date(this.deps.clock.now()).toISOString(), reason: t.reason, connectionsDeleted: null });
    this.log(t.to === "down" ? "warn" : "info", { msg: `uplink ${t.to}`, uplink, reason: t.reason });
    this.emit("uplink", uplink, t);
    if (t.to === "down") this.flushAfter.add(uplink);
    else this.flushAfter.delete(uplink);
    // a failover does not wait for quiet: new connections must leave by the others now
    this.runner.request([{ kind: "uplink", uplink, to: t.to }], { delayMs: 0, urgent: true });
  }

  private onTarget(key: string, t: Transition): void {
    this.snap.targetsDown = [...this.checks.targets.down()].sort();
    if (t.to === "up") this.joining.delete(key);
    this.log(t.to === "down" ? "warn" : "info", { msg: `target ${t.to}`, target: key, reason: t.reason });
    this.emit("target", key, t);
    this.speaker?.nudge();
    // a dead target leaves the table at once (stable: only its entries move)
    this.runner.request([{ kind: "target", target: key, change: t.to }], { delayMs: 0, urgent: true });
  }

  /** One reconcile through the engine, as a record and the kind of its end (the runner's retries follow the kind). */
  private async reconcileOnce(reasons: Reason[], since: number): Promise<{ kind: RunKind; result: ReconcileRecord }> {
    const { clock } = this.deps;
    const started = clock.now();
    const reason = reasonsText(reasons);
    const record = (error: string | null, changed = false, summary: string | null = null): ReconcileRecord => {
      const done = clock.now();
      return { at: new Date(done).toISOString(), reason, durationMs: done - started, changed, summary, error, latencyMs: error ? null : done - since };
    };
    const end = (kind: RunKind, r: ReconcileRecord) => {
      this.snap.lastReconcile = r;
      this.emit("reconcile", r);
      return { kind, result: r };
    };
    try {
      // around conflicts: a foreign object holds back only the changes it stands on, and the rest is repaired now
      const result = await this.deps.reconcile({ netns: this.options.netns, load: () => this.resolved, waitMs: 60_000, allowConflicts: true, inputs: this.inputs() });
      const o = result.outcome;
      const desired = o.state.applied?.desired;
      this.lastBalancers = desired?.balancers ?? [];
      this.scope = { ...watchScope(this.resolved, desired ?? EMPTY_DESIRED), held: heldDestinations(o.plan.held.routes) };
      const news = conflictNews(this.snap, o.plan);
      if (news) this.log(news.level, news.fields);
      this.snap.conflicts = o.plan.conflicts;
      this.snap.held = heldKeys(o.plan);
      this.noteWarnings(result.warnings);
      if (o.rolledBack) {
        const error = `apply failed and was rolled back (${o.rolledBack.restored ? "kernel as before" : "rollback incomplete"}): ${o.rolledBack.error}`;
        return end(this.failed(reason, error), record(error));
      }
      const r = record(null, o.changed, o.changed && !isEmptyPlan(o.plan) ? planSummary(o.plan) : null);
      this.snap.reconciles.ok += 1;
      this.appliedConfig = this.resolved.config;
      this.speaker?.nudge();
      if (o.changed) {
        for (const [k, n] of Object.entries(repairsOf(o.plan))) this.snap.repairs[k as RepairKind] += n ?? 0;
        this.snap.lastRepair = r;
      }
      await this.afterReconcile(reasons, desired?.marks);
      this.log(o.changed ? "info" : "debug", { msg: o.changed ? "repaired" : "no drift", reason, changed: o.changed, summary: r.summary, durationMs: r.durationMs, latencyMs: r.latencyMs });
      return end("ok", r);
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      // a state file it cannot read fails every reconcile alike: not a failure to back off from, an end (run.ts exits non-zero)
      if (e instanceof StateFileError) this.emit("fatal", e);
      return end(this.failed(reason, error, kindOf(e)), record(error));
    }
  }

  /** Counts a failed reconcile; its kind decides the retry. */
  private failed(reason: string, error: string, kind: ErrorKind = "fatal"): RunKind {
    this.snap.reconciles.failed += 1;
    this.lastFailure = { reason, error };
    return kind;
  }
  private lastFailure: { reason: string; error: string } | null = null;

  /** Logs a failure with the retry the runner chose for it. */
  private settled(kind: RunKind, backoffMs: number): void {
    this.snap.backoffMs = backoffMs;
    if (kind === "ok" || kind === "conflict" || !this.lastFailure) return;
    this.log("error", { msg: "reconcile failed", ...this.lastFailure, kind, retryInMs: backoffMs });
    this.lastFailure = null;
  }

  /** Warnings (an uplink down, an interface missing) are logged when they change, not on every reconcile. */
  private noteWarnings(warnings: string[]): void {
    const text = warnings.join("\n");
    if (text === this.lastWarnings) return;
    this.lastWarnings = text;
    if (warnings.length) this.log("warn", { msg: "config warnings", warnings });
  }

  /** After a good reconcile: the dead uplinks' connections go (new ones already leave elsewhere); probes follow moved addresses. */
  private async afterReconcile(reasons: Reason[], marks: { mask: number; uplinks: { name: string; mark: number }[] } | undefined): Promise<void> {
    for (const uplink of [...this.flushAfter]) {
      this.flushAfter.delete(uplink);
      const mark = marks?.uplinks.find((u) => u.name === uplink)?.mark;
      if (mark === undefined || !marks) continue;
      const deleted = await this.deps.deleteConnections(this.options.netns, mark, marks.mask).catch((e: unknown) => {
        this.log("error", { msg: "conntrack entries not deleted", uplink, error: (e as Error).message });
        return null;
      });
      const last = [...this.snap.failovers].reverse().find((f) => f.uplink === uplink && f.to === "down");
      if (last) last.connectionsDeleted = deleted;
      this.log("info", { msg: "connections of a dead uplink deleted", uplink, deleted });
    }
    if (movesAddresses(reasons)) await this.syncChecks("retargeted");
  }

  /** Brings the uplinks' and targets' probes in step with the config in force and the addresses now; one at a time, none after stop began. */
  private syncChecks(what: string): Promise<void> {
    this.syncing = this.syncing.then(() => this.syncOnce(what));
    return this.syncing;
  }
  private syncing: Promise<void> = Promise.resolve();

  private async syncOnce(what: string): Promise<void> {
    if (this.stopping) return;
    try {
      const uplinks = await this.deps.uplinkChecks(this.resolved, this.options.netns);
      const targets = await this.deps.targetChecks(this.effective(), this.options.netns);
      if (this.stopping) return;
      await this.checks.uplinks.sync(uplinks);
      await this.checks.targets.sync(targets.map((c) => (this.joining.has(c.key) ? { ...c, initial: "down" as const } : c)));
      for (const k of this.joining) if (!targets.some((c) => c.key === k)) this.joining.delete(k);
      this.snap.targetsDown = [...this.checks.targets.down()].sort();
    } catch (e) {
      this.log("error", { msg: `health checks not ${what}`, error: (e as Error).message });
    }
  }

  private log(level: "debug" | "info" | "warn" | "error", fields: Record<string, unknown>): void {
    this.emit("log", level, fields);
  }
}
