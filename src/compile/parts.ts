/**
 * What each scenario module contributes before priorities are assigned. Rules
 * come in ordered groups (pinned sources first, marks last) so the order of
 * evaluation in the kernel follows intent, not config order.
 */
import type { OutboundPlan } from "../model/desired.js";
import type { RoutingRule } from "../model/rule.js";
import type { Route } from "../model/route.js";
import type { Sysctl } from "../model/sysctl.js";
import type { NftRule, NftChain, NftSet, NftMap, NftFlowSet } from "../model/nftTable.js";
import type { Link } from "../model/link.js";
import type { KernelFeature } from "../model/desired.js";
import type { Extra } from "../model/extra.js";

/** Rule groups in evaluation order. */
export const RULE_GROUPS = ["source", "uplinkSource", "network", "fwmark"] as const;
export type RuleGroup = (typeof RULE_GROUPS)[number];

export type UnplacedRule = Omit<RoutingRule, "priority"> & { group: RuleGroup };

/** One scenario's share of the desired state. */
export interface Part {
  rules: UnplacedRule[];
  routes: Route[];
  sysctls: Sysctl[];
  sets: NftSet[];
  /** load balancers' flow memory */
  flowSets?: NftFlowSet[];
  maps: NftMap[];
  chains: NftChain[];
  nftRules: NftRule[];
  links: Link[];
  requires: KernelFeature[];
  warnings: string[];
  /** interfaces whose rp_filter must be off in effect: compile lowers `all` for them */
  rpFilterOff: string[];
  /** addresses and IPv6 neighbour proxies */
  extras: Extra[];
  /** rules of the `arp symroute` table */
  arpRules: NftRule[];
  /** outbound policies' draws, for the simulator */
  outbound?: OutboundPlan[];
  /** instances to announce (gratuitous ARP) when their route is new */
  announce: Announce[];
}

/** An address to announce on an interface after apply, so neighbours update their caches. */
export interface Announce {
  dev: string;
  address: string;
  /** the route whose arrival means the instance is new here */
  route: string;
}

/** A part with nothing in it. */
export function emptyPart(): Part {
  return { rules: [], routes: [], sysctls: [], sets: [], maps: [], chains: [], nftRules: [], links: [], requires: [], warnings: [], rpFilterOff: [], extras: [], arpRules: [], announce: [] };
}

/** The mangle priority of nftables (-150), where marks are set. */
export const MANGLE_PRIO = -150;
