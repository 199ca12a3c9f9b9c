/**
 * Everything symroute wants in the kernel for one config: the output of
 * compile and the input of plan, render and simulate.
 */
import type { RoutingRule } from "./rule.js";
import type { Route } from "./route.js";
import type { Sysctl } from "./sysctl.js";
import type { NftTable } from "./nftTable.js";
import type { Link } from "./link.js";
import type { BalancerInfo } from "./balancer.js";
import type { Extra } from "./extra.js";

/** Kernel features a desired state depends on; apply probes them first. */
export type KernelFeature = "vrf";

export interface Desired {
  rules: RoutingRule[];
  routes: Route[];
  sysctls: Sysctl[];
  nft: NftTable | null;
  /** the `arp symroute` table (ARP source rewriting), null when not needed */
  nftArp?: NftTable | null;
  /** the `netdev symroute` table (load balancers' fast paths), null when not needed */
  nftNetdev?: NftTable | null;
  /** addresses and neighbour proxies (owned only when symroute added them) */
  extras?: Extra[];
  links: Link[];
  requires: KernelFeature[];
  /** what symroute's nft rules do to marks, in terms the simulator can apply */
  marks?: MarkPlan;
  /** instances to announce with gratuitous ARP when their route is new */
  announce?: { dev: string; address: string; route: string }[];
  /** load balancers' Maglev tables and targets (not kernel objects themselves: the nft table holds them) */
  balancers?: BalancerInfo[];
}

/** symroute's marking, summarised: connmark by ingress uplink, marks by source address. */
export interface MarkPlan {
  mask: number;
  uplinks: { name: string; interface: string; mark: number; connmark: boolean }[];
  /** locally generated packets from these addresses get the mark (service mark strategy) */
  sources: { address: string; mark: number }[];
  /** outbound policies as compiled now: which uplinks draw new connections, and how (for trace) */
  outbound?: OutboundPlan[];
}

/** One outbound policy's draw: the live uplinks of its lowest live tier, each with its range of [0, total). */
export interface OutboundPlan {
  name: string;
  from: string[];
  sticky: "connection" | "source";
  seed: number;
  total: number;
  draw: { uplink: string; mark: number; first: number; last: number }[];
}

/** A desired state with nothing in it: what `destroy` aims at. */
export function emptyDesired(): Desired {
  return { rules: [], routes: [], sysctls: [], nft: null, links: [], requires: [] };
}
