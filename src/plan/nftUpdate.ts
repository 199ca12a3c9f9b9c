/**
 * A change of load-balancer targets as a few nft commands instead of a whole
 * new table: target chains added or removed, and only the Maglev map entries
 * that change owner rewritten, all in one transaction. Applies when nothing
 * else in the table differs. Computed from the two tables as data in one pass
 * over each, with no command list of the whole table built.
 */
import { flowSetCommand, type NftMap, type NftRule, type NftTable } from "../model/nftTable.js";

/**
 * Chains that change with the targets: each target's own (in the netdev table one per family), and a flow
 * memory's recall and SYN chains (a rule per target). The same in the inet and the netdev table.
 */
const TARGET_CHAIN = /_t_[0-9a-f]{8}(_[46])?$|_(recall|syn)[46]$/;

/** What an in-place change does: its commands, and how many map entries and target chains it touches. */
export interface TargetUpdate {
  commands: Record<string, unknown>[];
  entries: number;
  chains: number;
}

const ruleJson = (r: NftRule) => ({ expr: r.statements.map((s) => s.json), ...(r.comment ? { comment: r.comment } : {}) });

/** Everything but the target chains and the map entries, as text to compare. */
function rest(t: NftTable): string {
  return JSON.stringify([
    t.family,
    t.name,
    t.sets ?? [],
    // flow sets come and go with their targets; their settings are the balancers' and change the table
    [...new Set((t.flowSets ?? []).map((f) => `${f.family}/${f.timeout}/${f.size}`))].sort(),
    (t.maps ?? []).map((m) => m.name),
    t.chains.filter((c) => !TARGET_CHAIN.test(c.name)),
    t.rules.filter((r) => !TARGET_CHAIN.test(r.chain)).map((r) => [r.chain, ruleJson(r)]),
  ]);
}

/** Each target chain's rules, as text to compare. */
function targetChains(t: NftTable): Map<string, string> {
  const rules = new Map<string, unknown[]>();
  for (const c of t.chains) if (TARGET_CHAIN.test(c.name)) rules.set(c.name, []);
  for (const r of t.rules) if (TARGET_CHAIN.test(r.chain)) rules.get(r.chain)?.push(ruleJson(r));
  return new Map([...rules].map(([name, list]) => [name, JSON.stringify(list)]));
}

/**
 * The entries of `next` that differ from `prev` (to add) and the keys of `prev`
 * whose entry goes or changes (to delete). Both lists are in key order, as
 * compile makes them, so one merge walk does; a Map per side took longer than the rest of the plan.
 */
function entryChanges(prev: NftMap["elem"], next: NftMap["elem"]): { remove: number[]; add: [number, string][] } {
  const ordered = (elem: NftMap["elem"]) => elem.every((e, i) => i === 0 || elem[i - 1][0] < e[0]);
  const a = ordered(prev) ? prev : [...prev].sort((x, y) => x[0] - y[0]);
  const b = ordered(next) ? next : [...next].sort((x, y) => x[0] - y[0]);
  const remove: number[] = [];
  const add: [number, string][] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i][0] < b[j][0])) remove.push(a[i++][0]);
    else if (i >= a.length || b[j][0] < a[i][0]) add.push(b[j++]);
    else {
      if (a[i][1] !== b[j][1]) {
        remove.push(a[i][0]);
        add.push(b[j]);
      }
      i++;
      j++;
    }
  }
  return { remove, add };
}

/** The flow sets a recall chain sends to: the targets whose remembered flows are honoured. */
function recalled(t: NftTable): Set<string> {
  const names = new Set<string>();
  for (const r of t.rules)
    if (/_recall[46]$/.test(r.chain))
      for (const st of r.statements) {
        const right = (st.json as { match?: { right?: unknown } }).match?.right;
        if (typeof right === "string" && right.startsWith("@")) names.add(right.slice(1));
      }
  return names;
}

/** The commands that turn table `prev` into `next`, or null when more than targets changed. */
export function targetUpdate(prev: NftTable, next: NftTable): TargetUpdate | null {
  if (rest(prev) !== rest(next)) return null;
  const t = { family: next.family, table: next.name };
  const commands: Record<string, unknown>[] = [];
  const before = targetChains(prev);
  const after = targetChains(next);
  const rulesOf = new Map<string, NftRule[]>();
  for (const r of next.rules) if (TARGET_CHAIN.test(r.chain)) rulesOf.set(r.chain, [...(rulesOf.get(r.chain) ?? []), r]);
  let chains = 0;
  const prevSets = new Set((prev.flowSets ?? []).map((f) => f.name));
  const nextSets = new Set((next.flowSets ?? []).map((f) => f.name));
  // new flow sets before the rules that use them
  for (const f of next.flowSets ?? []) if (!prevSets.has(f.name)) commands.push(flowSetCommand(next.family, next.name, f));
  for (const [name, rules] of after) {
    const old = before.get(name);
    if (old === rules) continue;
    chains++;
    commands.push(old !== undefined ? { flush: { chain: { ...t, name } } } : { add: { chain: { ...t, name } } });
    for (const r of rulesOf.get(name) ?? []) commands.push({ add: { rule: { ...t, chain: name, ...ruleJson(r) } } });
  }
  let entries = 0;
  const prevMaps = new Map((prev.maps ?? []).map((m) => [m.name, m.elem]));
  for (const m of next.maps ?? []) {
    const { remove, add } = entryChanges(prevMaps.get(m.name) ?? [], m.elem);
    entries += add.length;
    if (remove.length) commands.push({ delete: { element: { ...t, name: m.name, elem: remove } } });
    if (add.length) commands.push({ add: { element: { ...t, name: m.name, elem: add.map(([k, chain]) => [k, { jump: { target: chain } }]) } } });
  }
  for (const name of before.keys()) {
    if (after.has(name)) continue;
    chains++;
    commands.push({ flush: { chain: { ...t, name } } }, { delete: { chain: { ...t, name } } });
  }
  // a target that left the recall chain (down) forgets its flows: back, it starts with none, and the
  // flows that moved away stay where they went; sets of targets that are gone go after the rules using them
  const before_ = recalled(prev);
  const after_ = recalled(next);
  for (const name of before_) if (!after_.has(name) && nextSets.has(name)) commands.push({ flush: { set: { ...t, name } } });
  for (const name of prevSets) if (!nextSets.has(name)) commands.push({ delete: { set: { ...t, name } } });
  return { commands, entries, chains };
}
