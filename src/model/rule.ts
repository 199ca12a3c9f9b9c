/**
 * A routing policy rule as symroute owns it. Field names follow `ip -j rule`
 * keys, so a rule read from the kernel and a compiled one compare directly.
 */
import type { Family } from "../net/ip.js";

export interface RoutingRule {
  family: Family;
  /** `priority` */
  priority: number;
  /** `table`, numeric */
  table: number;
  /** `src` with `srclen`: canonical prefix, absent for `all` */
  src?: string;
  /** `dst` with `dstlen` */
  dst?: string;
  /** `iif` */
  iif?: string;
  /** `oif` */
  oif?: string;
  /** `fwmark`, numeric */
  fwmark?: number;
  /** `fwmask`, numeric; absent means the full 32 bits */
  fwmask?: number;
  /** `suppress_prefixlen` */
  suppressPrefixLength?: number;
  /** why symroute wants this rule; not a kernel field, dropped when comparing */
  why?: string;
}

/** The identity of a rule: every kernel field, nothing else. */
export function ruleKey(r: RoutingRule): string {
  return [
    `-${r.family}`,
    `pref ${r.priority}`,
    r.src ? `from ${r.src}` : "from all",
    r.dst ? `to ${r.dst}` : "",
    r.iif ? `iif ${r.iif}` : "",
    r.oif ? `oif ${r.oif}` : "",
    r.fwmark !== undefined ? `fwmark ${hex(r.fwmark)}/${hex(r.fwmask ?? 0xffffffff)}` : "",
    r.suppressPrefixLength !== undefined ? `suppress_prefixlength ${r.suppressPrefixLength}` : "",
    `lookup ${r.table}`,
  ]
    .filter(Boolean)
    .join(" ");
}

/** Hex as iproute2 prints marks. */
export function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}
