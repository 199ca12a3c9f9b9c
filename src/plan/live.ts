/**
 * The kernel state plan compares against, as plain data (read by kernel/,
 * or built by hand in tests).
 */
import type { RoutingRule } from "../model/rule.js";
import type { Route } from "../model/route.js";

export interface Tagged<T> {
  value: T;
  protocol: number;
}

export interface LiveState {
  rules: Tagged<RoutingRule>[];
  routes: Tagged<Route>[];
  /** symroute's nft table as listed (handles stripped), null when absent */
  nft: Record<string, Record<string, unknown>>[] | null;
  /** symroute's arp table as listed, null when absent */
  nftArp?: Record<string, Record<string, unknown>>[] | null;
  /** addresses and IPv6 neighbour proxies present */
  extras?: import("../model/extra.js").Extra[];
  /** current values of the sysctls the plan looks at */
  sysctls: Record<string, string>;
  /** interfaces present */
  interfaces: string[];
}

/** What the last successful apply left, kept in the state file. */
export interface AppliedRecord {
  /** JSON of the nft commands applied, to compare with the new desired table */
  nftDesired: string | null;
  /** the table as listed right after that apply, to notice drift */
  nftLive: string | null;
  /** the same two for the arp table */
  nftArpDesired?: string | null;
  nftArpLive?: string | null;
}
