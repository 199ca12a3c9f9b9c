/**
 * Rules and routes as iproute2 words, shared by the batch apply sends and by
 * `render --format ip`, so both say the same thing.
 */
import type { RoutingRule } from "./rule.js";
import type { Route } from "./route.js";
import { hex } from "./rule.js";
import { SYMROUTE_PROTO } from "./ownership.js";

/** `ip rule` words after `add`/`del`. */
export function ruleWords(r: RoutingRule): string[] {
  const w = ["priority", String(r.priority)];
  w.push("from", r.src ?? "all");
  if (r.dst) w.push("to", r.dst);
  if (r.iif) w.push("iif", r.iif);
  if (r.oif) w.push("oif", r.oif);
  if (r.fwmark !== undefined) w.push("fwmark", `${hex(r.fwmark)}/${hex(r.fwmask ?? 0xffffffff)}`);
  if (r.suppressPrefixLength !== undefined) w.push("suppress_prefixlength", String(r.suppressPrefixLength));
  w.push("table", String(r.table), "protocol", String(SYMROUTE_PROTO));
  return w;
}

/** `ip route` words after `add`/`replace`/`del`. */
export function routeWords(r: Route): string[] {
  const w: string[] = [];
  if (r.type && r.type !== "unicast") w.push(r.type);
  w.push(r.dst);
  if (r.gateway) w.push("via", r.gateway);
  if (r.dev) w.push("dev", r.dev);
  if (r.scope) w.push("scope", r.scope);
  if (r.prefsrc) w.push("src", r.prefsrc);
  if (r.metric !== undefined) w.push("metric", String(r.metric));
  w.push("table", String(r.table), "proto", String(SYMROUTE_PROTO));
  return w;
}

