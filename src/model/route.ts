/**
 * A route as symroute owns it. Field names follow `ip -j route` keys.
 */
import type { Family } from "../net/ip.js";

export type RouteType = "unicast" | "local" | "broadcast" | "blackhole" | "unreachable" | "prohibit" | "throw";

export interface Route {
  family: Family;
  /** `table`, numeric (254 is main) */
  table: number;
  /** `dst`: canonical prefix or `default` */
  dst: string;
  /** `type`; absent means unicast */
  type?: RouteType;
  /** `gateway` */
  gateway?: string;
  /** `dev` */
  dev?: string;
  /** `scope`: link for on-link routes */
  scope?: "link" | "host";
  /** `prefsrc` */
  prefsrc?: string;
  /** `metric`; absent means the kernel default (0 for IPv4, 1024 for IPv6) */
  metric?: number;
  why?: string;
}

/** What makes two routes the same slot in the kernel: one can replace the other. */
export function routeSlot(r: Route): string {
  return `-${r.family} table ${r.table} ${r.type && r.type !== "unicast" ? `${r.type} ` : ""}${r.dst} metric ${r.metric ?? 0}`;
}

/** Every kernel field: two routes with the same key are identical. */
export function routeKey(r: Route): string {
  return [
    routeSlot(r),
    r.gateway ? `via ${r.gateway}` : "",
    r.dev ? `dev ${r.dev}` : "",
    r.scope ? `scope ${r.scope}` : "",
    r.prefsrc ? `src ${r.prefsrc}` : "",
  ]
    .filter(Boolean)
    .join(" ");
}
