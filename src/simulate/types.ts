/**
 * The simulator's view of the kernel and of a packet: plain data, so the
 * routing decision can be computed (and explained) without asking the kernel.
 */
import type { Family, Prefix } from "../net/ip.js";
import type { RouteType } from "../model/route.js";

/** A policy rule with every selector the kernel has. */
export interface SimRule {
  family: Family;
  priority: number;
  not: boolean;
  src?: Prefix;
  dst?: Prefix;
  iif?: string;
  oif?: string;
  fwmark?: number;
  fwmask?: number;
  ipproto?: number;
  sport?: [number, number];
  dport?: [number, number];
  uidrange?: [number, number];
  suppressPrefixLength?: number;
  /** what the rule does */
  action: { kind: "lookup"; table: number } | { kind: "goto"; target: number } | { kind: "blackhole" | "unreachable" | "prohibit" | "nop" };
  /** protocol tag (97 for symroute's own) */
  protocol: number;
  text: string;
}

/** A route in some table. */
export interface SimRoute {
  family: Family;
  table: number;
  dst: Prefix;
  type: RouteType | "multicast" | "anycast";
  gateway?: string;
  dev?: string;
  prefsrc?: string;
  metric: number;
  protocol: number;
  text: string;
}

/** An address on an interface. */
export interface SimAddress {
  dev: string;
  prefix: Prefix;
  text: string;
  scope: "global" | "link" | "host";
}

/** The kernel's routing state. */
export interface KernelView {
  rules: SimRule[];
  routes: SimRoute[];
  addresses: SimAddress[];
  /** interface names, when known */
  links?: string[];
}

/** The packet whose route is asked for. */
export interface Packet {
  family: Family;
  dst: string;
  src?: string;
  /** incoming interface; absent for locally generated packets (the kernel then uses `lo`) */
  iif?: string;
  oif?: string;
  mark?: number;
  /** IP protocol number (6 tcp, 17 udp, 132 sctp, 1/58 icmp) */
  proto?: number;
  sport?: number;
  dport?: number;
  uid?: number;
  /** the IPv4 TTL or IPv6 hop limit on arrival (absent: enough) */
  ttl?: number;
  /** a fragment (the first or a later one) */
  fragment?: boolean;
  /** a TCP SYN without ACK: a new connection, which takes the Maglev table's decision even when its 4-tuple is remembered */
  syn?: boolean;
}

/** Route types the kernel reports (plus the lack of any route, reported as unreachable). */
export type ResultType = "unicast" | "local" | "broadcast" | "blackhole" | "unreachable" | "prohibit";

/** Where the packet goes. */
export interface RouteResult {
  type: ResultType;
  table?: string;
  dev?: string;
  via?: string;
  src?: string;
  /** why there is no route, when there is none */
  error?: "ENETUNREACH" | "EHOSTUNREACH" | "EACCES" | "EINVAL";
}

/** One step of the explanation. */
export interface Step {
  kind: "nft" | "rule" | "table" | "route" | "source" | "verdict";
  text: string;
}

/** The decision with its explanation. */
export interface Decision {
  result: RouteResult;
  steps: Step[];
}
