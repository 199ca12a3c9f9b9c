/**
 * Keeps the uplinks' and targets' probes in step with the config in force and
 * the addresses now. One sync at a time, none after the daemon's stop began:
 * a sync that started probes after stop would leave them running with nothing
 * to stop them (issue 18: a SIGTERM during a reconcile once hung the daemon so).
 */
import type { ResolvedConfig } from "../config/resolved.js";
import type { DaemonDeps, HealthSet } from "./deps.js";

/** What a sync needs from the daemon. */
export interface CheckSyncHost {
  deps: DaemonDeps;
  netns: string | undefined;
  checks: { uplinks: HealthSet; targets: HealthSet };
  config(): ResolvedConfig;
  /** the config with the registered targets in */
  effective(): ResolvedConfig;
  stopping(): boolean;
  targetsDown(keys: string[]): void;
  log(level: "error", fields: Record<string, unknown>): void;
}

/** The probes' sync of one daemon. */
export class CheckSync {
  /** checked targets registered while running: their check starts from "down" */
  readonly joining = new Set<string>();
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly host: CheckSyncHost) {}

  /** Syncs after the sync under way (if any). */
  sync(what: string): Promise<void> {
    this.chain = this.chain.then(() => this.once(what));
    return this.chain;
  }

  /** Resolves when no sync is under way. */
  idle(): Promise<void> {
    return this.chain;
  }

  private async once(what: string): Promise<void> {
    const { host } = this;
    if (host.stopping()) return;
    try {
      const uplinks = await host.deps.uplinkChecks(host.config(), host.netns);
      const targets = await host.deps.targetChecks(host.effective(), host.netns);
      if (host.stopping()) return;
      await host.checks.uplinks.sync(uplinks);
      await host.checks.targets.sync(targets.map((c) => (this.joining.has(c.key) ? { ...c, initial: "down" as const } : c)));
      for (const k of this.joining) if (!targets.some((c) => c.key === k)) this.joining.delete(k);
      host.targetsDown([...host.checks.targets.down()].sort());
    } catch (e) {
      host.log("error", { msg: `health checks not ${what}`, error: (e as Error).message });
    }
  }
}
