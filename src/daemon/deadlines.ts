/**
 * Leases and drains over time: a registration whose lease ran out leaves; a
 * drain ends when its target's remembered flows are gone, when its timeout
 * passes, or at once when its balancer keeps no flows. Looked at when the
 * next deadline is due and every second while a drain waits for its flows.
 * A count of remembered flows that could not be read ends no drain but by
 * its timeout (issue 18: a failed read once ended every drain as
 * "stateless"). Owns one timer, on the daemon's clock.
 */
import type { Clock } from "./scheduler.js";
import type { Registry } from "./registry.js";
import type { BalancerInfo } from "../model/balancer.js";
import type { Reason } from "./reasons.js";
import { last20, type DaemonSnapshot } from "./snapshot.js";
import { parseTargetKey } from "../model/names.js";

/** Why a drain ended. */
export type DrainEnd = "flows ended" | "timeout" | "stateless";

/** What the watch needs from the daemon. */
export interface DeadlineHost {
  clock: Clock;
  registry: Registry;
  /** the balancers as last applied: which keep flows, and their sets */
  balancers(): BalancerInfo[];
  /** remembered flows per target; throws when the kernel cannot be read */
  rememberedFlows(balancers: BalancerInfo[]): Promise<Map<string, number>>;
  /** the daemon's own state: leases expired and drains finished are recorded there (the last 20 of each) */
  snap: Pick<DaemonSnapshot, "leasesExpired" | "drainsFinished">;
  log(level: "info" | "warn", fields: Record<string, unknown>): void;
  /** "leaseExpired" with the target's key, for the metrics */
  emit(event: "leaseExpired", key: string): void;
  /** a reconcile for what changed; resolves once it ran */
  reconcile(reasons: Reason[]): Promise<void>;
  /** no drain or lease is looked at after stop began */
  stopping(): boolean;
}

/** The watch of one daemon's leases and drains. */
export class DeadlineWatch {
  private timer: unknown = null;
  private running: Promise<void> | null = null;

  constructor(private readonly host: DeadlineHost) {}

  /** Looks again when the next deadline is due (or within `soonMs`). */
  arm(soonMs?: number): void {
    const { clock, registry } = this.host;
    if (this.host.stopping()) return;
    this.disarm();
    const waits = [registry.nextDeadline(), registry.drains().length ? 1000 : null, soonMs ?? null].filter((x): x is number => x !== null);
    if (waits.length === 0) return;
    // the clock holds a timer at most 2^31 ms: a deadline further away is looked at again when it fires
    this.timer = clock.setTimeout(() => {
      this.timer = null;
      // a look whose reconcile the daemon's stop refused (RunnerStopped) ends quietly: nothing waits on it but stop
      this.running = this.check().catch(() => undefined).finally(() => {
        this.running = null;
        this.arm();
      });
    }, Math.min(...waits) + 5);
  }

  /** Stops the timer and waits for a look under way. */
  async stop(): Promise<void> {
    this.disarm();
    await this.running?.catch(() => undefined);
  }

  private disarm(): void {
    if (this.timer !== null) this.host.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Expires leases and ends drains that are due; one reconcile for all of it. */
  async check(): Promise<void> {
    const { registry, clock } = this.host;
    if (this.host.stopping()) return;
    const reasons: Reason[] = [];
    const at = () => new Date(clock.now()).toISOString();
    for (const key of registry.expire()) {
      this.host.snap.leasesExpired = last20(this.host.snap.leasesExpired, { target: key, at: at() });
      this.host.log("warn", { msg: "lease expired; target removed", target: key });
      this.host.emit("leaseExpired", key);
      reasons.push({ kind: "target", target: key, change: "lease expired" });
    }
    const drains = registry.drains();
    if (drains.length) {
      const balancers = this.host.balancers();
      const memory = new Set(balancers.filter((b) => b.flowMemory).map((b) => b.name));
      const counts = await this.host.rememberedFlows(balancers).catch(() => null);
      const now = clock.now();
      for (const d of drains) {
        const keeps = memory.has(parseTargetKey(d.key).balancer);
        const left = counts?.get(d.key) ?? null;
        // without a count (the read failed) only the timeout ends a drain of a balancer that keeps flows
        const why: DrainEnd | null = !keeps ? "stateless" : now >= d.deadline ? "timeout" : left === 0 ? "flows ended" : null;
        if (!why || this.host.stopping()) continue;
        registry.finishDrain(d.key);
        this.host.snap.drainsFinished = last20(this.host.snap.drainsFinished, { target: d.key, at: at(), why });
        this.host.log("info", { msg: "drain finished; target left", target: d.key, why, flowsLeft: left });
        reasons.push({ kind: "target", target: d.key, change: "drain finished" });
      }
    }
    if (reasons.length && !this.host.stopping()) await this.host.reconcile(reasons);
  }
}
