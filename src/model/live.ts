/**
 * The kernel state plan compares against, as plain data (read by kernel/,
 * or built by hand in tests). In model/ because kernel/ produces it and plan/
 * consumes it, and kernel/ depends on nothing above model/.
 */
import type { RoutingRule } from "./rule.js";
import type { Route } from "./route.js";
import type { NftTable } from "./nftTable.js";

/** A kernel object with the `proto` tag that says who made it. */
export interface Tagged<T> {
  value: T;
  protocol: number;
}

/** The kernel as plan sees it. */
export interface LiveState {
  rules: Tagged<RoutingRule>[];
  routes: Tagged<Route>[];
  /** symroute's nft table as listed (handles stripped), null when absent; a terse listing leaves out the elements of named sets and maps */
  nft: Record<string, Record<string, unknown>>[] | null;
  /** symroute's arp table as listed, null when absent */
  nftArp?: Record<string, Record<string, unknown>>[] | null;
  /** symroute's netdev table (fast paths) as listed, null when absent; its ingress chains are listed without their device */
  nftNetdev?: Record<string, Record<string, unknown>>[] | null;
  /** addresses and IPv6 neighbour proxies present */
  extras?: import("./extra.js").Extra[];
  /** current values of the sysctls the plan looks at */
  sysctls: Record<string, string>;
  /** interfaces present */
  interfaces: string[];
}

/** What the last successful apply left, kept in the state file. */
export interface AppliedRecord {
  /** digest of the nft commands applied (nftDesiredText), to compare with the new desired table; older files hold the JSON itself */
  nftDesired: string | null;
  /** fingerprint of the table as listed right after that apply (listingFingerprint), to notice drift; older files hold the listing's JSON */
  nftLive: string | null;
  /** the same two for the arp table */
  nftArpDesired?: string | null;
  nftArpLive?: string | null;
  /** the same two for the netdev table */
  nftNetdevDesired?: string | null;
  nftNetdevLive?: string | null;
  /** the tables applied, whose commands an in-place change of targets is computed from (the state file keeps the whole desired state) */
  desired?: { nft?: NftTable | null; nftArp?: NftTable | null; nftNetdev?: NftTable | null };
}
