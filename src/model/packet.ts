/**
 * A packet whose route is asked for, and where the kernel (or the simulator)
 * sends it: plain data shared by kernel/ (which asks `ip route get`) and
 * simulate/ (which computes the same decision and explains it).
 */
import type { Family } from "../net/ip.js";

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
