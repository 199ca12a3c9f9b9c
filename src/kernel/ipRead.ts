/**
 * Reads rules and routes with `ip -N -j` (numeric, JSON) and turns them into
 * model objects, split into symroute's own (by protocol tag) and foreign.
 */
import type { Runner } from "./runner.js";
import type { RoutingRule } from "../model/rule.js";
import type { Route, RouteType } from "../model/route.js";
import type { Family } from "../net/ip.js";
import { canonicalAddress, canonicalPrefix } from "../net/ip.js";
import { SYMROUTE_PROTO } from "../model/ownership.js";
import type { Tagged } from "../plan/live.js";


interface JsonRule {
  priority: number;
  src?: string;
  srclen?: number;
  dst?: string;
  dstlen?: number;
  iif?: string;
  oif?: string;
  fwmark?: string;
  fwmask?: string;
  table?: string;
  protocol?: string;
  suppress_prefixlen?: number;
  action?: string;
}

interface JsonRoute {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  table?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  metric?: number;
}

/** All rules of both families. */
export async function readRules(runner: Runner): Promise<Tagged<RoutingRule>[]> {
  const out: Tagged<RoutingRule>[] = [];
  for (const family of [4, 6] as const) {
    const res = await runner.run(["ip", "-N", "-j", `-${family}`, "rule", "show"]);
    const rows = JSON.parse(res.stdout || "[]") as JsonRule[];
    for (const row of rows) out.push({ value: ruleFromJson(row, family), protocol: Number(row.protocol ?? 0) });
  }
  return out;
}

/** Converts one `ip -N -j rule` row. */
export function ruleFromJson(row: JsonRule, family: Family): RoutingRule {
  const rule: RoutingRule = { family, priority: row.priority, table: Number(row.table ?? 0) };
  if (row.src && row.src !== "all") rule.src = canonicalPrefix(row.srclen !== undefined ? `${row.src}/${row.srclen}` : row.src);
  if (row.dst && row.dst !== "all") rule.dst = canonicalPrefix(row.dstlen !== undefined ? `${row.dst}/${row.dstlen}` : row.dst);
  if (row.iif) rule.iif = row.iif;
  if (row.oif) rule.oif = row.oif;
  if (row.fwmark !== undefined) {
    rule.fwmark = Number(row.fwmark) >>> 0;
    rule.fwmask = row.fwmask !== undefined ? Number(row.fwmask) >>> 0 : 0xffffffff;
  }
  if (row.suppress_prefixlen !== undefined) rule.suppressPrefixLength = row.suppress_prefixlen;
  return rule;
}

const ROUTE_TYPES: Record<string, RouteType> = {
  "1": "unicast",
  "2": "local",
  "3": "broadcast",
  "6": "blackhole",
  "7": "unreachable",
  "8": "prohibit",
  "9": "throw",
};

/** All routes of both families in every table. */
export async function readRoutes(runner: Runner): Promise<Tagged<Route>[]> {
  const out: Tagged<Route>[] = [];
  for (const family of [4, 6] as const) {
    const res = await runner.run(["ip", "-N", "-j", `-${family}`, "route", "show", "table", "all"]);
    const rows = JSON.parse(res.stdout || "[]") as JsonRoute[];
    for (const row of rows) {
      if (row.type !== undefined && ROUTE_TYPES[row.type] === undefined) continue;
      out.push({ value: routeFromJson(row, family), protocol: Number(row.protocol ?? 0) });
    }
  }
  return out;
}

/** Converts one `ip -N -j route` row. */
export function routeFromJson(row: JsonRoute, family: Family): Route {
  const route: Route = { family, table: Number(row.table ?? 254), dst: canonicalPrefix(row.dst) };
  const type = row.type !== undefined ? ROUTE_TYPES[row.type] : undefined;
  if (type && type !== "unicast") route.type = type;
  if (row.gateway) route.gateway = canonicalAddress(row.gateway);
  if (row.dev) route.dev = row.dev;
  if (family === 4 && row.scope === "253") route.scope = "link";
  if (row.scope === "254") route.scope = "host";
  if (row.prefsrc) route.prefsrc = canonicalAddress(row.prefsrc);
  const defaultMetric = family === 6 ? 1024 : 0;
  if (row.metric !== undefined && row.metric !== defaultMetric) route.metric = row.metric;
  return route;
}

/** Keeps symroute's objects. */
export function owned<T>(list: Tagged<T>[]): T[] {
  return list.filter((t) => t.protocol === SYMROUTE_PROTO).map((t) => t.value);
}

/** Keeps everyone else's objects. */
export function foreign<T>(list: Tagged<T>[]): T[] {
  return list.filter((t) => t.protocol !== SYMROUTE_PROTO).map((t) => t.value);
}
