/**
 * Hands out table ids, marks and rule priorities. Deterministic: the same
 * config always yields the same numbers, so a re-apply changes nothing.
 */
import type { ResolvedConfig } from "../config/resolved.js";
import { lowestBit } from "../config/semantic.js";
import { targetKey } from "../model/names.js";

/** The numbers chosen for one config. */
export interface Allocation {
  /** uplink name to its routing table */
  uplinkTable: Map<string, number>;
  /** uplink name to its mark value (already shifted into the mask) */
  uplinkMark: Map<string, number>;
  /** vrf service name to [VRF table, default-VRF table toward the veth] */
  vrfTables: Map<string, [number, number]>;
  /** load balancer target (`lb/target`) to its routing table */
  targetTable: Map<string, number>;
  /** load balancer target (`lb/target`) to its mark */
  targetMark: Map<string, number>;
  /** load balancer name to its egress table */
  egressTable: Map<string, number>;
  /** routed network name to its table */
  networkTable: Map<string, number>;
  markMask: number;
}

/** Thrown when a range runs out; the CLI reports it against allocate.*. */
export class AllocationError extends Error {
  /** the ranges are too small for the config: nothing changes until someone widens them */
  readonly kind = "refused" as const;
}

/** Allocates every id the config leaves implicit. */
export function allocate(resolved: ResolvedConfig): Allocation {
  const { config } = resolved;
  const taken = new Set<number>();
  for (const u of config.uplinks) if (u.table !== undefined) taken.add(u.table);
  for (const s of config.services) if (s.table !== undefined) taken.add(s.table);
  for (const lb of config.loadBalancers) if (lb.egress?.table !== undefined) taken.add(lb.egress.table);
  for (const rn of config.routedNetworks) if (rn.table !== undefined) taken.add(rn.table);
  let next = resolved.tables.first;
  const nextTable = (): number => {
    while (taken.has(next)) next++;
    if (next > resolved.tables.last)
      throw new AllocationError(`allocate.tables ${resolved.tables.first}-${resolved.tables.last} has no free table left`);
    taken.add(next);
    return next;
  };
  const uplinkTable = new Map<string, number>();
  for (const u of config.uplinks) uplinkTable.set(u.name, u.table ?? nextTable());
  const vrfTables = new Map<string, [number, number]>();
  for (const s of config.services) if (s.strategy === "vrf") vrfTables.set(s.name, [s.table ?? nextTable(), nextTable()]);

  const egressTable = new Map<string, number>();
  const targetTable = new Map<string, number>();
  for (const lb of config.loadBalancers) {
    if (lb.egress) egressTable.set(lb.name, lb.egress.table ?? nextTable());
    for (const t of [...lb.targets].sort((a, b) => a.name.localeCompare(b.name))) targetTable.set(targetKey(lb.name, t.name), nextTable());
  }

  const networkTable = new Map<string, number>();
  for (const rn of config.routedNetworks) networkTable.set(rn.name, rn.table ?? nextTable());

  const shift = lowestBit(resolved.markMask);
  let markIndex = 0;
  const nextMark = () => (((++markIndex) << shift) >>> 0);
  const uplinkMark = new Map<string, number>();
  for (const u of config.uplinks) uplinkMark.set(u.name, nextMark());
  const targetMark = new Map<string, number>();
  for (const lb of config.loadBalancers)
    for (const t of [...lb.targets].sort((a, b) => a.name.localeCompare(b.name))) targetMark.set(targetKey(lb.name, t.name), nextMark());
  return { uplinkTable, uplinkMark, vrfTables, targetTable, targetMark, egressTable, networkTable, markMask: resolved.markMask };
}

/** The key of a load balancer's target in the allocation maps (named in model/names.ts, which its readers share). */
export { targetKey };

/** Gives rules consecutive priorities from the range, in the order given. */
export function assignPriorities<T extends { priority: number }>(rules: T[], resolved: ResolvedConfig): T[] {
  const size = resolved.priorities.last - resolved.priorities.first + 1;
  if (rules.length > size)
    throw new AllocationError(`allocate.priorities ${resolved.priorities.first}-${resolved.priorities.last} holds ${size} rules, ${rules.length} needed`);
  return rules.map((r, i) => ({ ...r, priority: resolved.priorities.first + i }));
}
