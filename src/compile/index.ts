/**
 * compile: config plus host facts in, desired kernel objects out. Pure and
 * deterministic; scenario modules each add their part.
 */
import type { ResolvedConfig } from "../config/resolved.js";
import type { Desired, MarkPlan } from "../model/desired.js";
import { canonicalAddress } from "../net/ip.js";
import type { HostFacts } from "../model/facts.js";
import type { NftChain, NftRule, NftTable } from "../model/nftTable.js";
import type { FastPart } from "./fastPath.js";
import type { FieldPath } from "../config/errors.js";
import type { RoutingRule } from "../model/rule.js";
import { allocate, assignPriorities, type Allocation } from "./allocate.js";
import { RULE_GROUPS, type Part } from "./parts.js";
import { compileUplinks } from "./uplinks.js";
import { compileServices } from "./services.js";
import { rpFilterOff } from "./rpFilter.js";
import { compileLoadBalancers } from "./loadBalancers.js";
import { compileRoutedNetworks } from "./routedNetworks.js";
import { compileOutbound } from "./outbound.js";
import { extraKey } from "../model/extra.js";

import { NFT_TABLE } from "../model/ownership.js";
import { NO_INPUTS, targetsOut, withRegistered, type Inputs } from "./inputs.js";
export { NFT_TABLE };

/** What compile returns: the desired state, the numbers it chose, and notes for the user. */
export interface Compiled {
  desired: Desired;
  allocation: Allocation;
  warnings: string[];
  /** problems of the config on this host (its facts): apply and plan refuse it, naming the field */
  refusals?: { path: FieldPath; message: string }[];
}

/**
 * Compiles a validated config against the host's facts and the inputs beside
 * the file (uplinks and targets down, drains, registered targets: see
 * inputs.ts); `previousTables` keeps the targets' table ids of the last apply.
 */
export function compile(config: ResolvedConfig, facts: HostFacts, previousTables: Record<string, string[]> = {}, inputs: Inputs = NO_INPUTS): Compiled {
  const resolved = withRegistered(config, inputs);
  const down = inputs.uplinksDown;
  const allocation = allocate(resolved);
  const lbPart = compileLoadBalancers(resolved, allocation, previousTables, targetsOut(inputs), inputs.targetsDraining, facts);
  const parts: Part[] = [compileUplinks(resolved, allocation, facts), compileServices(resolved, allocation), lbPart, compileRoutedNetworks(resolved, allocation), compileOutbound(resolved, allocation, facts, down)];
  const unplaced = parts.flatMap((p) => p.rules);
  const ordered = RULE_GROUPS.flatMap((g) => unplaced.filter((r) => r.group === g));
  const rules: RoutingRule[] = assignPriorities(
    ordered.map(({ group: _group, ...rule }) => ({ ...rule, priority: 0 })),
    resolved,
  );
  const chains = mergeChains(parts);
  const nft: NftTable | null =
    chains.length > 0 ? { family: "inet", name: NFT_TABLE, sets: parts.flatMap((p) => p.sets), ...(parts.some((p) => p.flowSets?.length) ? { flowSets: parts.flatMap((p) => p.flowSets ?? []) } : {}), maps: parts.flatMap((p) => p.maps), chains, rules: parts.flatMap((p) => p.nftRules) } : null;
  const arpRules = parts.flatMap((p) => p.arpRules);
  const nftArp: NftTable | null = arpRules.length
    ? { family: "arp", name: NFT_TABLE, chains: [{ name: "output", type: "filter", hook: "output", prio: 0, policy: "accept" }], rules: arpRules }
    : null;
  const nftNetdev = netdevTable(lbPart.fast);
  const extras = dedupeBy(parts.flatMap((p) => p.extras), extraKey);
  const announce = parts.flatMap((p) => p.announce);
  const { zeros, lowering } = rpFilterOff(parts.flatMap((p) => p.rpFilterOff), facts);
  const sysctls = dedupeSysctls([...zeros, ...parts.flatMap((p) => p.sysctls), ...lowering]);
  return {
    desired: {
      rules,
      routes: parts.flatMap((p) => p.routes),
      sysctls,
      nft,
      links: parts.flatMap((p) => p.links),
      requires: [...new Set(parts.flatMap((p) => p.requires))],
      ...(lbPart.balancers.length ? { balancers: lbPart.balancers } : {}),
      ...(nftArp ? { nftArp } : {}),
      ...(nftNetdev ? { nftNetdev } : {}),
      ...(extras.length ? { extras } : {}),
      ...(announce.length ? { announce } : {}),
      ...(resolved.config.uplinks.length ? { marks: { ...markPlan(resolved, allocation), ...(parts.some((p) => p.outbound?.length) ? { outbound: parts.flatMap((p) => p.outbound ?? []) } : {}) } } : {}),
    },
    allocation,
    warnings: parts.flatMap((p) => p.warnings),
    ...(lbPart.fast.refusals.length ? { refusals: lbPart.fast.refusals } : {}),
  };
}

/** The netdev priority of the fast paths' ingress chains: before anything else a user hooks there. */
export const FAST_PATH_PRIO = -500;

/** The `netdev symroute` table: one ingress chain per interface (in name order), jumping into each balancer's fast path. */
function netdevTable(fast: FastPart): NftTable | null {
  if (fast.ingress.size === 0) return null;
  const devices = [...fast.ingress.keys()].sort();
  const chains: NftChain[] = devices.map((dev, i) => ({ name: `ingress${i}`, type: "filter", hook: "ingress", dev, prio: FAST_PATH_PRIO, policy: "accept" }));
  const rules: NftRule[] = devices.flatMap((dev, i) => fast.ingress.get(dev)!.map((rule) => ({ chain: `ingress${i}`, ...rule })));
  return { family: "netdev", name: NFT_TABLE, ...(fast.flowSets.length ? { flowSets: fast.flowSets } : {}), maps: fast.maps, chains: [...chains, ...fast.chains], rules: [...rules, ...fast.nftRules] };
}

function markPlan(resolved: ResolvedConfig, alloc: Allocation): MarkPlan {
  const { config } = resolved;
  return {
    mask: alloc.markMask,
    uplinks: config.uplinks.map((u) => ({ name: u.name, interface: u.interface, mark: alloc.uplinkMark.get(u.name)!, connmark: u.returnTraffic === "connmark" })),
    sources: config.services
      .filter((s) => s.strategy === "mark")
      .flatMap((s) => s.addresses.map((a) => ({ address: canonicalAddress(a), mark: alloc.uplinkMark.get(s.uplink)! }))),
  };
}

function dedupeBy<T>(list: T[], key: (t: T) => string): T[] {
  const seen = new Set<string>();
  return list.filter((x) => (seen.has(key(x)) ? false : (seen.add(key(x)), true)));
}

function mergeChains(parts: Part[]) {
  const byName = new Map<string, Part["chains"][number]>();
  for (const p of parts) for (const c of p.chains) if (!byName.has(c.name)) byName.set(c.name, c);
  return [...byName.values()];
}

/** The first setting of a key wins: rp_filter off, then explicit settings, then pins. */
function dedupeSysctls(list: Desired["sysctls"]): Desired["sysctls"] {
  const byKey = new Map<string, Desired["sysctls"][number]>();
  for (const s of list) if (!byKey.has(s.key)) byKey.set(s.key, s);
  return [...byKey.values()];
}
