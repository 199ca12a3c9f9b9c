/**
 * Kernel objects that carry no owner tag, so symroute owns only the ones it
 * added itself (recorded in the state file): interface addresses (the
 * gateway address of a router role) and IPv6 neighbour proxy entries (proxy
 * NDP answers only for addresses listed one by one).
 */
import type { Family } from "../net/ip.js";

export interface Extra {
  kind: "addr" | "neighProxy";
  family: Family;
  /** `dev` */
  dev: string;
  /** `local/prefixlen` for addresses, `dst` for proxies */
  address: string;
  why?: string;
}

/** Identity of an extra object. */
export function extraKey(e: Extra): string {
  return `${e.kind} -${e.family} ${e.address} dev ${e.dev}`;
}

/** `ip` words that add (or delete) the object. */
export function extraWords(e: Extra, verb: "add" | "del"): string[] {
  return e.kind === "addr" ? ["addr", verb, e.address, "dev", e.dev, ...(e.family === 6 && verb === "add" ? ["nodad"] : [])] : ["neigh", verb, "proxy", e.address, "dev", e.dev];
}
