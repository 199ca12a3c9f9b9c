/**
 * The load balancers as applied, with each target's Maglev share and the
 * packets the kernel counted for it: one view for `lb show`, the daemon's API
 * and its metrics.
 */
import { ProcessRunner, type Runner } from "../kernel/runner.js";
import { countSetElements, readNftStructure } from "../kernel/nft.js";
import { flowSetName } from "../compile/loadBalancers.js";
import { targetKey } from "../compile/allocate.js";
import { readState } from "../kernel/state.js";
import { NFT_TABLE } from "../compile/index.js";
import { shares } from "../maglev/stats.js";
import { hex } from "../model/rule.js";
import type { BalancerInfo } from "../model/balancer.js";
import { lbComment } from "../model/names.js";

/** One target as `lb show --json` and `GET /v1/balancers` print it. */
export interface TargetView {
  name: string;
  mark: string;
  table: number;
  via?: string;
  via6?: string;
  interface: string;
  entries: number;
  share: number;
  packets: number;
  /** packets the balancer's fast path forwarded to the target (with `fastPath`; `packets` counts the routed path) */
  fastPackets?: number;
  /** "up" in the table; "down" (its check fails) and "draining" take no new flows */
  state: "up" | "down" | "draining" | "drained";
  /** flows remembered now (with flow memory) */
  remembered?: number;
  /** where the target comes from: absent for the file's own, "registered" for run-time ones */
  source?: "registered";
}

/** One balancer as `lb show --json` prints it. */
export interface BalancerView {
  name: string;
  vips: string[];
  size: number;
  seed: string;
  assignment: string;
  flows: string[];
  /** seconds a flow is remembered and the most flows per target and family; absent: stateless */
  flowMemory?: { timeout: number; size: number };
  targets: TargetView[];
  /** flow name (and "(no flow matched: dropped)") to matched packets */
  flowMatches: Record<string, number>;
}

/** Packets and bytes of each counted rule, by its comment. */
export async function nftCounters(runner: Runner): Promise<Map<string, { packets: number; bytes: number }>> {
  // counters are in the rules: a terse listing has them without the Maglev maps' elements; the fast paths' (netdev) comments differ from the routed path's
  const tables = await readNftStructure(runner, NFT_TABLE, false);
  const objects = [...(tables.inet ?? []), ...(tables.netdev ?? [])];
  const out = new Map<string, { packets: number; bytes: number }>();
  for (const o of objects) {
    const rule = o.rule as { comment?: string; expr?: Record<string, unknown>[] } | undefined;
    if (!rule?.comment) continue;
    const c = rule.expr?.find((e) => "counter" in e)?.counter as { packets: number; bytes: number } | undefined;
    if (!c) continue;
    const prev = out.get(rule.comment) ?? { packets: 0, bytes: 0 };
    out.set(rule.comment, { packets: prev.packets + c.packets, bytes: prev.bytes + c.bytes });
  }
  return out;
}

/**
 * The flows each target of the balancers with flow memory remembers now (both
 * families), keyed "BALANCER/TARGET": for `lb show`, the metrics and the daemon's drains.
 */
export async function rememberedFlows(runner: Runner, balancers: BalancerInfo[]): Promise<Map<string, number>> {
  const withMemory = balancers.filter((b) => b.flowMemory);
  const sets = withMemory.flatMap((b) => b.targets.flatMap((t) => [flowSetName(t.chain, 4), flowSetName(t.chain, 6)]));
  // a fast path remembers its flows in the netdev table's sets of the same names
  const fastSets = withMemory.filter((b) => b.fastPath).flatMap((b) => b.targets.flatMap((t) => [flowSetName(t.chain, 4), flowSetName(t.chain, 6)]));
  const [sizes, fastSizes] = await Promise.all([sets.length ? countSetElements(runner, NFT_TABLE, sets) : new Map<string, number>(), fastSets.length ? countSetElements(runner, NFT_TABLE, fastSets, "netdev") : new Map<string, number>()]);
  const of = (name: string) => (sizes.get(name) ?? 0) + (fastSizes.get(name) ?? 0);
  const out = new Map<string, number>();
  for (const b of withMemory) for (const t of b.targets) out.set(targetKey(b.name, t.name), of(flowSetName(t.chain, 4)) + of(flowSetName(t.chain, 6)));
  return out;
}

/** The views of the applied balancers (the state's last apply), with counters read now. */
export async function balancerViews(options: { netns?: string; runner?: Runner; balancers?: BalancerInfo[] } = {}): Promise<BalancerView[]> {
  const all = options.balancers ?? readState(options.netns).applied?.desired.balancers ?? [];
  if (all.length === 0) return [];
  const runner = options.runner ?? new ProcessRunner(options.netns);
  const [count, remembered] = await Promise.all([nftCounters(runner), rememberedFlows(runner, all)]);
  return all.map((b) => {
    const entries = new Map(shares(b.table, b.targets.map((t) => t.name)).map((s) => [s.name, s.entries]));
    const flowMatches: Record<string, number> = {};
    for (const f of b.flows) flowMatches[f] = count.get(lbComment(b.name, { kind: "flow", flow: f }))?.packets ?? 0;
    flowMatches["(no flow matched: dropped)"] = count.get(lbComment(b.name, { kind: "no flow" }))?.packets ?? 0;
    return {
      name: b.name,
      vips: b.vips,
      size: b.size,
      seed: hex(b.seed),
      assignment: b.assignment,
      flows: b.flows,
      ...(b.flowMemory ? { flowMemory: b.flowMemory } : {}),
      flowMatches,
      targets: b.targets.map((t) => ({
        ...t,
        mark: hex(t.mark),
        entries: entries.get(t.name) ?? 0,
        share: b.size ? (entries.get(t.name) ?? 0) / b.size : 0,
        packets: count.get(lbComment(b.name, { kind: "target", target: t.name }))?.packets ?? 0,
        ...(b.fastPath ? { fastPackets: count.get(lbComment(b.name, { kind: "fast target", target: t.name }))?.packets ?? 0 } : {}),
        state: t.state ?? "up",
        ...(b.flowMemory ? { remembered: remembered.get(targetKey(b.name, t.name)) ?? 0 } : {}),
      })),
    };
  });
}
