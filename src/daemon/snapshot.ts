/**
 * The daemon's own state (issue 18, item 1): counters, the last reconciles,
 * conflicts, failovers, finished drains; read by the API, the metrics and the
 * status page. Separate from the inputs: nothing here changes what compile sees.
 */
import type { Plan } from "../plan/plan.js";
import type { EventKind } from "./events.js";

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

/** Objects a reconcile changed, by kind. */
export function repairsOf(plan: Plan): Partial<Record<RepairKind, number>> {
  return {
    rule: plan.rules.add.length + plan.rules.remove.length,
    route: plan.routes.add.length + plan.routes.remove.length + plan.routes.change.length,
    nft: (plan.nft.action !== "none" ? 1 : 0) + (plan.nftArp.action !== "none" ? 1 : 0) + (plan.nftNetdev.action !== "none" ? 1 : 0),
    sysctl: plan.sysctls.length,
    address: plan.extras.add.length + plan.extras.remove.length,
    link: plan.links.add.length + plan.links.remove.length,
  };
}

/** The state of a daemon that has not reconciled yet. */
export function initialSnapshot(file: string, netns: string | undefined, now: number): Omit<DaemonSnapshot, "targetsDraining" | "targetsRegistered"> {
  return {
    file,
    netns: netns ?? null,
    startedAt: new Date(now).toISOString(),
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
}

/** A list of the last 20 with one more. */
export function last20<T>(list: T[], item: T): T[] {
  return [...list.slice(-19), item];
}
