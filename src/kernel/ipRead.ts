/**
 * Turns rows of `ip -N -j` (numeric, JSON) into model objects, with
 * canonical addresses so they compare with compiled ones.
 */
import type { RoutingRule } from "../model/rule.js";
import type { Route, RouteType } from "../model/route.js";
import type { Family } from "../net/ip.js";
import { canonicalAddress, canonicalPrefix } from "../net/ip.js";


export interface JsonRule {
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

export interface JsonRoute {
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

const ROUTE_TYPES: Record<string, RouteType> = {
  "1": "unicast",
  "2": "local",
  "3": "broadcast",
  "6": "blackhole",
  "7": "unreachable",
  "8": "prohibit",
  "9": "throw",
};

/** True for route types symroute models (not multicast, anycast, nat). */
export function isRouteTypeKnown(row: JsonRoute): boolean {
  return row.type === undefined || ROUTE_TYPES[row.type] !== undefined;
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
