/**
 * plan: the pure difference between desired objects and what the kernel has,
 * restricted to what symroute owns. Foreign objects are never in a change;
 * where they stand in symroute's way they are listed as conflicts.
 */
import type { Desired } from "../model/desired.js";
import type { Link } from "../model/link.js";
import { extraKey, type Extra } from "../model/extra.js";
import type { RoutingRule } from "../model/rule.js";
import { ruleKey } from "../model/rule.js";
import type { Route } from "../model/route.js";
import { routeKey, routeSlot } from "../model/route.js";
import type { NftTable } from "../model/nftTable.js";
import type { IdRange } from "../config/resolved.js";
import type { AppliedRecord, LiveState } from "./live.js";
import { SYMROUTE_PROTO } from "../model/ownership.js";
import { targetUpdate } from "./nftUpdate.js";
import { listingChanged } from "./nftListing.js";
import { createHash } from "node:crypto";
import { findConflicts, type Held } from "./conflicts.js";


export interface SysctlChange {
  key: string;
  from: string | undefined;
  to: string;
  /** true when this puts back the value from before symroute */
  restore: boolean;
  why?: string;
}

export type NftAction = "none" | "create" | "replace" | "update" | "delete";

export interface Plan {
  rules: { add: RoutingRule[]; remove: RoutingRule[] };
  routes: { add: Route[]; remove: Route[]; change: { from: Route; to: Route }[] };
  /** `update` carries the commands of an in-place change (load-balancer targets only) and no table, so a plan is as large as its change */
  nft: { action: NftAction; table: NftTable | null; reason?: string; commands?: Record<string, unknown>[] };
  /** the `arp symroute` table, planned the same way */
  nftArp: { action: NftAction; table: NftTable | null; reason?: string };
  /** the `netdev symroute` table (fast paths), planned like the inet one (in-place target changes included); its commands join the same transaction */
  nftNetdev: { action: NftAction; table: NftTable | null; reason?: string; commands?: Record<string, unknown>[] };
  /** addresses and neighbour proxies: added, and removed where symroute had added them */
  extras: { add: Extra[]; remove: Extra[] };
  /** links symroute creates (vrf strategy): made before routes, removed after */
  links: { add: Link[]; remove: Link[] };
  sysctls: SysctlChange[];
  conflicts: string[];
  /** changes left out because a foreign object stands where they go: made once it is gone */
  held: Held;
}

export interface PlanInput {
  desired: Desired;
  live: LiveState;
  applied: AppliedRecord | null;
  /** originals of sysctls symroute changed earlier: restored when no longer desired */
  sysctlOriginals: Record<string, string>;
  priorities: IdRange;
  /** extras symroute added earlier (and so owns) */
  ownedExtras?: Extra[];
  /** links the last apply created, removed when no longer desired */
  previousLinks?: Link[];
  proto?: number;
  /** false: keep changes that conflicts stand on in the plan (rollback puts back exactly what was there) */
  holdConflicts?: boolean;
}

/** True when applying the plan would change nothing (changes held by conflicts are not made, so they do not count). */
export function isEmptyPlan(plan: Plan): boolean {
  return (
    plan.rules.add.length === 0 &&
    plan.rules.remove.length === 0 &&
    plan.routes.add.length === 0 &&
    plan.routes.remove.length === 0 &&
    plan.routes.change.length === 0 &&
    plan.nft.action === "none" &&
    plan.nftArp.action === "none" &&
    plan.nftNetdev.action === "none" &&
    plan.extras.add.length === 0 &&
    plan.extras.remove.length === 0 &&
    plan.links.add.length === 0 &&
    plan.links.remove.length === 0 &&
    plan.sysctls.length === 0
  );
}

const DIGEST = "sha256:";
const sha256 = (text: string) => DIGEST + createHash("sha256").update(text).digest("hex");

/**
 * A digest of a desired nft table, kept in the state to see whether
 * the next desired table differs. (The table itself is in the applied desired
 * state; a copy of its commands made a state file of a 1000-target balancer 6 MB larger.)
 */
export function nftDesiredText(table: NftTable | null): string | null {
  if (!table) return null;
  // plan, verify and the state write each ask for the same table's digest; a large table takes 100 ms to digest
  let text = digests.get(table);
  if (text === undefined) digests.set(table, (text = tableDigest(table)));
  return text;
}

/** sha256 of the table, its maps' entries fed in pieces: one JSON text of a 10^5-entry table costs 30 MB. */
function tableDigest(table: NftTable): string {
  const hash = createHash("sha256").update(JSON.stringify({ ...table, maps: (table.maps ?? []).map((m) => m.name) }));
  for (const m of table.maps ?? []) {
    hash.update(`\n${m.name}\n`);
    for (let i = 0; i < m.elem.length; i += 4096) hash.update(JSON.stringify(m.elem.slice(i, i + 4096)));
  }
  return DIGEST + hash.digest("hex");
}

const digests = new WeakMap<NftTable, string>();

/** Computes the plan. */
export function makePlan(input: PlanInput): Plan {
  const proto = input.proto ?? SYMROUTE_PROTO;
  const { desired, live } = input;
  const ownRules = live.rules.filter((r) => r.protocol === proto).map((r) => r.value);
  const foreignRules = live.rules.filter((r) => r.protocol !== proto).map((r) => r.value);
  const ownRoutes = live.routes.filter((r) => r.protocol === proto).map((r) => r.value);
  const foreignRoutes = live.routes.filter((r) => r.protocol !== proto).map((r) => r.value);

  const liveRuleKeys = new Set(ownRules.map(ruleKey));
  const desiredRuleKeys = new Set(desired.rules.map(ruleKey));
  const rules = {
    add: desired.rules.filter((r) => !liveRuleKeys.has(ruleKey(r))),
    remove: dedupe(ownRules.filter((r) => !desiredRuleKeys.has(ruleKey(r))), ruleKey),
  };

  const liveBySlot = new Map(ownRoutes.map((r) => [routeSlot(r), r]));
  const desiredSlots = new Set(desired.routes.map(routeSlot));
  const routes: Plan["routes"] = { add: [], remove: [], change: [] };
  for (const want of desired.routes) {
    const have = liveBySlot.get(routeSlot(want));
    if (!have) routes.add.push(want);
    else if (routeKey(have) !== routeKey(want)) routes.change.push({ from: have, to: want });
  }
  routes.remove = ownRoutes.filter((r) => !desiredSlots.has(routeSlot(r)));

  const found = findConflicts(desired, foreignRules, foreignRoutes, { rules: rules.add, routes: routes.add }, input.priorities);
  const held: Held = input.holdConflicts === false ? { rules: [], routes: [] } : found.held;
  if (held.rules.length) rules.add = rules.add.filter((r) => !held.rules.includes(r));
  if (held.routes.length) routes.add = routes.add.filter((r) => !held.routes.includes(r));
  const conflicts = found.conflicts;

  const { applied } = input;
  const nft = planNft(desired.nft, live.nft, applied && { desired: applied.nftDesired, live: applied.nftLive, table: applied.desired?.nft });
  const nftArp = planNft(desired.nftArp ?? null, live.nftArp ?? null, applied && { desired: applied.nftArpDesired, live: applied.nftArpLive, table: applied.desired?.nftArp });
  const nftNetdev = planNft(desired.nftNetdev ?? null, live.nftNetdev ?? null, applied && { desired: applied.nftNetdevDesired, live: applied.nftNetdevLive, table: applied.desired?.nftNetdev });
  const liveExtras = new Set((live.extras ?? []).map(extraKey));
  const wantExtras = new Set((desired.extras ?? []).map(extraKey));
  const extras = {
    add: (desired.extras ?? []).filter((e) => !liveExtras.has(extraKey(e))),
    remove: (input.ownedExtras ?? []).filter((e) => !wantExtras.has(extraKey(e)) && liveExtras.has(extraKey(e))),
  };

  const sysctls: SysctlChange[] = [];
  const desiredKeys = new Set<string>();
  for (const s of desired.sysctls) {
    desiredKeys.add(s.key);
    const current = live.sysctls[s.key];
    if (current !== s.value) sysctls.push({ key: s.key, from: current, to: s.value, restore: false, ...(s.why ? { why: s.why } : {}) });
  }
  for (const [key, original] of Object.entries(input.sysctlOriginals)) {
    if (desiredKeys.has(key)) continue;
    const current = live.sysctls[key];
    if (current === undefined) continue;
    sysctls.push({ key, from: current, to: original, restore: true, why: "value from before symroute" });
  }
  const present = new Set(live.interfaces);
  const wanted = new Set(desired.links.map((l) => l.ifname));
  const links = {
    add: desired.links.filter((l) => !present.has(l.ifname)),
    remove: (input.previousLinks ?? []).filter((l) => !wanted.has(l.ifname) && present.has(l.ifname)),
  };
  return { rules, routes, nft, nftArp, nftNetdev, extras, links, sysctls: sysctls.filter((s) => !(s.restore && s.from === s.to)), conflicts, held };
}

/** What the last apply recorded of one table: digests of the desired commands and of the listing, and the table itself. */
interface AppliedTable {
  desired: string | null | undefined;
  live: string | null | undefined;
  table: NftTable | null | undefined;
}

function planNft(want: NftTable | null, live: LiveState["nft"], applied: AppliedTable | null): Plan["nft"] {
  if (!want) return live ? { action: "delete", table: null } : { action: "none", table: null };
  if (!live) return { action: "create", table: want };
  if (!applied) return { action: "replace", table: want, reason: "rules differ" };
  const drifted = listingChanged(applied.live ?? null, live);
  // older state files recorded the commands' JSON: it never equals a digest, and the update below finds no change
  const before = applied.desired ?? null;
  if (before !== nftDesiredText(want)) {
    const update = before && applied.table && !drifted ? targetUpdate(applied.table, want) : null;
    // the same table under another digest (a state file from an older symroute): nothing to do
    if (update && update.commands.length === 0) return { action: "none", table: null };
    if (update) return { action: "update", table: null, commands: update.commands, reason: `load-balancer targets: ${update.chains} target chains and ${update.entries} Maglev entries change` };
    return { action: "replace", table: want, reason: "rules differ" };
  }
  if (drifted) return { action: "replace", table: want, reason: "table changed outside symroute" };
  return { action: "none", table: null };
}

function dedupe<T>(list: T[], key: (t: T) => string): T[] {
  const seen = new Set<string>();
  return list.filter((x) => {
    const k = key(x);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
