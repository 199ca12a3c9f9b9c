/**
 * One reconcile of the daemon, through the engine (the one writer): the
 * record the API and logs show, and the kind of its end, from which the
 * runner decides a retry. It also keeps what the last good reconcile left
 * that others read: the balancers as applied (the drain watch), the watch
 * scope of kernel events, the config last applied (the BGP speaker), and
 * the uplinks whose connections go once new ones leave elsewhere.
 */
import type { ResolvedConfig } from "../config/resolved.js";
import type { Config } from "../config/schema.js";
import { StateFileError } from "../engine/index.js";
import type { Inputs } from "../compile/inputs.js";
import { isEmptyPlan } from "../plan/plan.js";
import { planSummary } from "../plan/format.js";
import type { BalancerInfo } from "../model/balancer.js";
import { kindOf, type ErrorKind } from "../model/errorKind.js";
import { heldDestinations, watchScope, type WatchScope } from "./events.js";
import { conflictNews, heldKeys } from "./conflictNews.js";
import type { RunKind } from "./scheduler.js";
import { movesAddresses, reasonsText, type Reason } from "./reasons.js";
import type { DaemonDeps } from "./deps.js";
import { repairsOf, type DaemonSnapshot, type ReconcileRecord, type RepairKind } from "./snapshot.js";

const EMPTY_DESIRED = { rules: [], routes: [], sysctls: [], nft: null, links: [], requires: [] };

/** What a reconcile needs from the daemon. */
export interface ReconcileHost {
  deps: DaemonDeps;
  netns: string | undefined;
  snap: Omit<DaemonSnapshot, "targetsDraining" | "targetsRegistered">;
  config(): ResolvedConfig;
  inputs(): Inputs;
  /** the speaker re-reads readiness */
  nudge(): void;
  syncChecks(what: string): Promise<void>;
  emit(event: "reconcile" | "fatal", value: unknown): void;
  log(level: "debug" | "info" | "warn" | "error", fields: Record<string, unknown>): void;
}

/** The daemon's reconciles, one at a time (the runner sees to that). */
export class Reconciler {
  /** the balancers and the config as last applied without error */
  balancers: BalancerInfo[] = [];
  appliedConfig: Config | null = null;
  scope: WatchScope = { tables: new Set(), interfaces: new Set() };
  /** uplinks that went down: their connections are deleted once a reconcile moved new ones elsewhere */
  readonly flushAfter = new Set<string>();
  private lastWarnings = "";
  private lastFailure: { reason: string; error: string } | null = null;

  constructor(private readonly host: ReconcileHost) {}

  /** One reconcile through the engine, as a record and the kind of its end (the runner's retries follow the kind). */
  async run(reasons: Reason[], since: number): Promise<{ kind: RunKind; result: ReconcileRecord }> {
    const { clock } = this.host.deps;
    const started = clock.now();
    const reason = reasonsText(reasons);
    const record = (error: string | null, changed = false, summary: string | null = null): ReconcileRecord => {
      const done = clock.now();
      return { at: new Date(done).toISOString(), reason, durationMs: done - started, changed, summary, error, latencyMs: error ? null : done - since };
    };
    const end = (kind: RunKind, r: ReconcileRecord) => {
      this.host.snap.lastReconcile = r;
      this.host.emit("reconcile", r);
      return { kind, result: r };
    };
    try {
      // around conflicts: a foreign object holds back only the changes it stands on, and the rest is repaired now
      const result = await this.host.deps.reconcile({ netns: this.host.netns, load: () => this.host.config(), waitMs: 60_000, allowConflicts: true, inputs: this.host.inputs() });
      const o = result.outcome;
      const desired = o.state.applied?.desired;
      this.balancers = desired?.balancers ?? [];
      this.scope = { ...watchScope(this.host.config(), desired ?? EMPTY_DESIRED), held: heldDestinations(o.plan.held.routes) };
      const news = conflictNews(this.host.snap, o.plan);
      if (news) this.host.log(news.level, news.fields);
      this.host.snap.conflicts = o.plan.conflicts;
      this.host.snap.held = heldKeys(o.plan);
      this.noteWarnings(result.warnings);
      if (o.rolledBack) {
        const error = `apply failed and was rolled back (${o.rolledBack.restored ? "kernel as before" : "rollback incomplete"}): ${o.rolledBack.error}`;
        return end(this.failed(reason, error), record(error));
      }
      const r = record(null, o.changed, o.changed && !isEmptyPlan(o.plan) ? planSummary(o.plan) : null);
      this.host.snap.reconciles.ok += 1;
      this.appliedConfig = this.host.config().config;
      this.host.nudge();
      if (o.changed) {
        for (const [k, n] of Object.entries(repairsOf(o.plan))) this.host.snap.repairs[k as RepairKind] += n ?? 0;
        this.host.snap.lastRepair = r;
      }
      await this.afterReconcile(reasons, desired?.marks);
      this.host.log(o.changed ? "info" : "debug", { msg: o.changed ? "repaired" : "no drift", reason, changed: o.changed, summary: r.summary, durationMs: r.durationMs, latencyMs: r.latencyMs });
      return end("ok", r);
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      // a state file it cannot read fails every reconcile alike: not a failure to back off from, an end (run.ts exits non-zero)
      if (e instanceof StateFileError) this.host.emit("fatal", e);
      return end(this.failed(reason, error, kindOf(e)), record(error));
    }
  }

  /** Counts a failed reconcile; its kind decides the retry. */
  private failed(reason: string, error: string, kind: ErrorKind = "fatal"): RunKind {
    this.host.snap.reconciles.failed += 1;
    this.lastFailure = { reason, error };
    return kind;
  }

  /** Logs a failure with the retry the runner chose for it. */
  settled(kind: RunKind, backoffMs: number): void {
    this.host.snap.backoffMs = backoffMs;
    if (kind === "ok" || kind === "conflict" || !this.lastFailure) return;
    this.host.log("error", { msg: "reconcile failed", ...this.lastFailure, kind, retryInMs: backoffMs });
    this.lastFailure = null;
  }

  /** Warnings (an uplink down, an interface missing) are logged when they change, not on every reconcile. */
  private noteWarnings(warnings: string[]): void {
    const text = warnings.join("\n");
    if (text === this.lastWarnings) return;
    this.lastWarnings = text;
    if (warnings.length) this.host.log("warn", { msg: "config warnings", warnings });
  }

  /** After a good reconcile: the dead uplinks' connections go (new ones already leave elsewhere); probes follow moved addresses. */
  private async afterReconcile(reasons: Reason[], marks: { mask: number; uplinks: { name: string; mark: number }[] } | undefined): Promise<void> {
    for (const uplink of [...this.flushAfter]) {
      this.flushAfter.delete(uplink);
      const mark = marks?.uplinks.find((u) => u.name === uplink)?.mark;
      if (mark === undefined || !marks) continue;
      const deleted = await this.host.deps.deleteConnections(this.host.netns, mark, marks.mask).catch((e: unknown) => {
        this.host.log("error", { msg: "conntrack entries not deleted", uplink, error: (e as Error).message });
        return null;
      });
      const last = [...this.host.snap.failovers].reverse().find((f) => f.uplink === uplink && f.to === "down");
      if (last) last.connectionsDeleted = deleted;
      this.host.log("info", { msg: "connections of a dead uplink deleted", uplink, deleted });
    }
    if (movesAddresses(reasons)) await this.host.syncChecks("retargeted");
  }
}
