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

import type { RouteResult } from "../model/packet.js";
export type { Packet, ResultType, RouteResult } from "../model/packet.js";

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
