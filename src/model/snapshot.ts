/**
 * What the kernel held of symroute's before a change: enough to put it back
 * exactly. Plain data so it can live in the state file across a crash.
 */
import type { RoutingRule } from "./rule.js";
import type { Route } from "./route.js";
import type { AppliedRecord } from "./live.js";
import type { Extra } from "./extra.js";

export interface Snapshot {
  rules: RoutingRule[];
  routes: Route[];
  /** symroute's nft table as listed, null when there was none */
  nft: Record<string, Record<string, unknown>>[] | null;
  /** symroute's arp table as listed, null when there was none */
  nftArp?: Record<string, Record<string, unknown>>[] | null;
  /** symroute's netdev table as listed (without its chains' devices, which rollback takes from the tables applied), null when there was none */
  nftNetdev?: Record<string, Record<string, unknown>>[] | null;
  /** addresses and proxies the change adds (deleted on rollback) and removes (added back) */
  addedExtras?: Extra[];
  removedExtras?: Extra[];
  /** values of every sysctl the change touches, as they were */
  sysctls: Record<string, string>;
  /** links this change creates: deleted again on rollback */
  createdLinks?: string[];
  applied: AppliedRecord | null;
  /** nft and nftArp are terse listings: the map elements are those of the tables applied before (the state's applied desired state) */
  nftElementsApplied?: boolean;
  /** whether the change touched each nft table: an untouched one is left alone by rollback (its counters go on) */
  nftTouched?: boolean;
  nftArpTouched?: boolean;
  nftNetdevTouched?: boolean;
}
