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
import { inputsOf, withRegistered, type Inputs } from "../compile/inputs.js";
import type { Plan } from "../plan/plan.js";
import type { KernelMonitor } from "../engine/index.js";
import { classifyEvent } from "./events.js";
import { uplinkView, type UplinkHealthView } from "./uplinkHealth.js";
import { targetView, type TargetHealthView } from "./targetHealth.js";
import type { Transition } from "./health.js";
import { Registry, type RegisteredView } from "./registry.js";
import { BatchedSave } from "./batchedSave.js"; // the renewals' write timer, on the daemon's clock
import type { RegistrationsFile } from "./registrationsFile.js";
import { LOCAL_CALLER, type Caller } from "./caller.js";
import { ReconcileRunner } from "./scheduler.js";
import type { Reason } from "./reasons.js";
import { realDeps, type DaemonDeps, type DaemonOptions, type HealthSet, type Speaker } from "./deps.js";
import { DeadlineWatch } from "./deadlines.js";
import { Reconciler } from "./reconciler.js";
import { CheckSync } from "./checkSync.js";
import * as ops from "./targetOps.js";
import { withTargetStates } from "./views.js";
import { initialSnapshot, last20, type DaemonSnapshot, type ReconcileRecord } from "./snapshot.js";

export type { DaemonSnapshot, ReconcileRecord, RepairKind } from "./snapshot.js";
export type { DaemonOptions } from "./deps.js";

/** The longest the children (monitors, probers) get to stop before the daemon goes on without them: they die with it anyway. */
const CHILDREN_DEADLINE_MS = 2000;

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
  private monitor: KernelMonitor | null = null;
  private speaker: Speaker | null = null;
  private stopping = false;
  private readonly reconciler: Reconciler;
  private readonly checkSync: CheckSync;

  constructor(private readonly options: DaemonOptions) {
    super();
    this.deps = options.deps ?? realDeps();
    const { clock } = this.deps;
    this.resolved = options.initial ?? options.load();
    this.snap = initialSnapshot(this.resolved.file, options.netns, clock.now());
    const saver = new BatchedSave<RegistrationsFile>((data) => this.deps.saveRegistrations(data, options.netns), clock);
    this.registry = new Registry(this.deps.loadRegistrations(options.netns), saver, () => clock.now());
    this.checks = this.deps.health(options.netns, (uplink, t) => this.onUplink(uplink, t), (key, t) => this.onTarget(key, t));
    this.checkSync = new CheckSync({
      deps: this.deps,
      netns: options.netns,
      checks: this.checks,
      config: () => this.resolved,
      effective: () => this.effective(),
      stopping: () => this.stopping,
      targetsDown: (keys) => (this.snap.targetsDown = keys),
      log: (level, fields) => this.log(level, fields),
    });
    this.reconciler = new Reconciler({
      deps: this.deps,
      netns: options.netns,
      snap: this.snap,
      config: () => this.resolved,
      inputs: () => this.inputs(),
      nudge: () => this.speaker?.nudge(),
      syncChecks: (what) => this.syncChecks(what),
      emit: (event, value) => this.emit(event, value),
      log: (level, fields) => this.log(level, fields),
    });
    this.runner = new ReconcileRunner<Reason, ReconcileRecord>({
      clock,
      debounceMs: options.debounceMs,
      maxDelayMs: options.maxDelayMs ?? 250,
      intervalMs: options.reconcileIntervalMs,
      run: (reasons, _full, since) => this.reconciler.run(reasons, since),
      intervalReason: { kind: "interval" },
      retryReason: { kind: "retry" },
      settled: (kind, backoffMs) => this.reconciler.settled(kind, backoffMs),
    });
    this.deadlines = new DeadlineWatch({
      clock,
      registry: this.registry,
      balancers: () => this.reconciler.balancers,
      rememberedFlows: (balancers) => this.deps.rememberedFlows(options.netns, balancers),
      snap: this.snap,
      log: (level, fields) => this.log(level, fields),
      emit: (event, key) => this.emit(event, key),
      reconcile: async (reasons) => {
        await this.runner.runNow(reasons);
        await this.syncChecks("restarted");
      },
      stopping: () => this.stopping,
    });
    this.opsHost = {
      registry: this.registry,
      config: () => this.resolved,
      interfaceAddresses: () => this.deps.interfaceAddresses(options.netns),
      // a reconcile that starts after the caller's change (a burst of callers shares one)
      reconcile: (reasons) => this.runner.runNow(reasons),
      joining: this.checkSync.joining,
      syncChecks: (what) => this.syncChecks(what),
      armDeadlines: (soonMs) => this.deadlines.arm(soonMs),
      log: (level, fields) => this.log(level, fields),
      stopping: () => this.stopping,
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
    this.speaker = await this.deps.speaker({ netns, config: () => this.effective().config, applied: () => this.reconciler.appliedConfig, targets: () => this.targetHealth(), log: (l, f) => this.log(l, f) });
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
    // each step whatever the one before did: a step that fails must not leave the children running (the process
    // would never end); withdraw the VIPs first and let the router converge
    const quietly = (p: Promise<unknown> | undefined) => Promise.resolve(p).catch((e: unknown) => this.log("error", { msg: "stop", error: (e as Error).message }));
    await quietly(this.speaker?.stop());
    await quietly(this.runner.stop());
    await quietly(this.deadlines.stop());
    await quietly(Promise.resolve().then(() => this.registry.flush()));
    await quietly(this.checkSync.idle());
    let deadline: unknown = null;
    const children = Promise.all([quietly(this.monitor?.stop()), quietly(this.checks.stop())]);
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
    return withTargetStates(await this.deps.balancerViews({ netns: this.options.netns }), this.targetHealth(), this.registry.registered(), this.registry.drained());
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

  private onLine(source: "ip" | "nft", line: string): void {
    this.snap.events.seen += 1;
    const kind = classifyEvent(source, line, this.reconciler.scope);
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
    if (t.to === "down") this.reconciler.flushAfter.add(uplink);
    else this.reconciler.flushAfter.delete(uplink);
    // a failover does not wait for quiet: new connections must leave by the others now
    this.runner.request([{ kind: "uplink", uplink, to: t.to }], { delayMs: 0, urgent: true });
  }

  private onTarget(key: string, t: Transition): void {
    this.snap.targetsDown = [...this.checks.targets.down()].sort();
    if (t.to === "up") this.checkSync.joining.delete(key);
    this.log(t.to === "down" ? "warn" : "info", { msg: `target ${t.to}`, target: key, reason: t.reason });
    this.emit("target", key, t);
    this.speaker?.nudge();
    // a dead target leaves the table at once (stable: only its entries move)
    this.runner.request([{ kind: "target", target: key, change: t.to }], { delayMs: 0, urgent: true });
  }

  private syncChecks(what: string): Promise<void> {
    return this.checkSync.sync(what);
  }

  private log(level: "debug" | "info" | "warn" | "error", fields: Record<string, unknown>): void {
    this.emit("log", level, fields);
  }
}
