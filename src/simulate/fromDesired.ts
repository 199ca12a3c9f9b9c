/**
 * The kernel as it would be after applying a config: the live view with
 * symroute's own rules and routes swapped for the config's.
 */
import type { Desired } from "../model/desired.js";
import type { RoutingRule } from "../model/rule.js";
import type { Route } from "../model/route.js";
import { SYMROUTE_PROTO } from "../model/ownership.js";
import { parsePrefix } from "../net/ip.js";
import { simRoute, simRule } from "./parse.js";
import type { KernelView, SimRoute, SimRule } from "./types.js";

function toSimRule(r: RoutingRule): SimRule {
  const row: Record<string, unknown> = { priority: r.priority, table: String(r.table), protocol: String(SYMROUTE_PROTO) };
  if (r.src) Object.assign(row, prefixRow(r.src, "src", "srclen"));
  if (r.dst) Object.assign(row, prefixRow(r.dst, "dst", "dstlen"));
  if (r.iif) row.iif = r.iif;
  if (r.oif) row.oif = r.oif;
  if (r.fwmark !== undefined) Object.assign(row, { fwmark: String(r.fwmark), fwmask: String(r.fwmask ?? 0xffffffff) });
  if (r.suppressPrefixLength !== undefined) row.suppress_prefixlen = r.suppressPrefixLength;
  return simRule(row, r.family);
}

function prefixRow(text: string, key: string, lenKey: string): Record<string, unknown> {
  const p = parsePrefix(text)!;
  return { [key]: text.split("/")[0], [lenKey]: p.length };
}

function toSimRoute(r: Route): SimRoute | null {
  const row: Record<string, unknown> = { dst: r.dst, table: String(r.table), protocol: String(SYMROUTE_PROTO) };
  const types: Record<string, string> = { local: "2", broadcast: "3", blackhole: "6", unreachable: "7", prohibit: "8", throw: "9" };
  if (r.type && r.type !== "unicast") row.type = types[r.type];
  if (r.gateway) row.gateway = r.gateway;
  if (r.dev) row.dev = r.dev;
  if (r.prefsrc) row.prefsrc = r.prefsrc;
  row.metric = r.metric ?? (r.family === 6 ? 1024 : 0);
  return simRoute(row, r.family);
}

/** The live view with symroute's objects replaced by the desired ones. */
export function viewAfterApply(live: KernelView, desired: Desired): KernelView {
  return {
    ...live,
    rules: [...live.rules.filter((r) => r.protocol !== SYMROUTE_PROTO), ...desired.rules.map(toSimRule)],
    routes: [...live.routes.filter((r) => r.protocol !== SYMROUTE_PROTO), ...desired.routes.map(toSimRoute).filter((r): r is SimRoute => r !== null)],
  };
}
