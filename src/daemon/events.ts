/**
 * Which kernel events can concern symroute: its own rules and routes (proto
 * 97), routes in the tables it uses, links and addresses of the interfaces its
 * config names, netconf of those interfaces (and all/default), its nft tables.
 * Everything else (a storm of another tool's routes in its own tables) is
 * dropped here, before it costs a kernel read.
 */
import type { Desired } from "../model/desired.js";
import type { ResolvedConfig } from "../config/resolved.js";
import { NFT_TABLE, SYMROUTE_PROTO } from "../model/ownership.js";

/** What the daemon watches, derived from the config and its desired state. */
export interface WatchScope {
  tables: Set<number>;
  interfaces: Set<string>;
  /** destinations of routes a conflict holds back (in main, say): a foreign route leaving one is the news they wait for */
  held?: Set<string>;
}

/** The destinations of held routes as `ip monitor` prints them (a host route without its /32 or /128). */
export function heldDestinations(routes: { dst: string }[]): Set<string> {
  const out = new Set<string>();
  for (const r of routes) {
    out.add(r.dst);
    out.add(r.dst.replace(/\/(32|128)$/, ""));
  }
  return out;
}

/** The scope of a compiled config. */
export function watchScope(resolved: ResolvedConfig, desired: Desired): WatchScope {
  const tables = new Set<number>();
  for (const r of desired.routes) if (r.table !== 254) tables.add(r.table);
  for (const r of desired.rules) tables.add(r.table);
  const c = resolved.config;
  const interfaces = new Set<string>();
  for (const u of c.uplinks) interfaces.add(u.interface);
  for (const lb of c.loadBalancers) {
    for (const t of lb.targets) interfaces.add(t.interface);
    if (lb.egress?.interface) interfaces.add(lb.egress.interface);
    // a fast path's ingress interface deleted and made again has lost its netdev hook: its link event brings it back
    for (const i of lb.fastPath?.ingress ?? []) interfaces.add(i);
  }
  for (const n of c.routedNetworks) {
    interfaces.add(n.interface);
    for (const i of n.instances ?? []) interfaces.add(i.tap);
    if (n.masquerade?.interface) interfaces.add(n.masquerade.interface);
  }
  return { tables, interfaces };
}

/** The kind of object a relevant event is about, for logs and metrics. */
export type EventKind = "rule" | "route" | "link" | "address" | "sysctl" | "nft";

const PROTO = new RegExp(`\\bproto ${SYMROUTE_PROTO}\\b`);

/** `nft monitor`'s line for a change of an object: "add rule inet symroute lb_in4 ...", "delete table netdev symroute". */
const NFT_OBJECT = /^(?:add|delete|replace|insert|update|flush) (?:table|chain|rule|set|map|element|flowtable|counter|quota|limit|ct helper|ct timeout|ct expectation|synproxy|secmark) (?:inet|arp|netdev|ip|ip6|bridge) (\S+)/;

/** Classifies one monitor line: the kind of object when it may concern symroute, else null. */
export function classifyEvent(source: "ip" | "nft", line: string, scope: WatchScope): EventKind | null {
  // an object of symroute's own tables, by the table's name in the line, whatever a rule's comment says; packet
  // traces (`trace --live`) and generation lines are no change of an object
  if (source === "nft") return NFT_OBJECT.exec(line)?.[1] === NFT_TABLE ? "nft" : null;
  const body = line.replace(/^Deleted /, "");
  // rules: "1000:\tfrom 1.2.3.4 lookup 77 proto 97"
  if (/^[0-9]+:\s+(not\s+)?(from|to|iif|oif|fwmark|all|lookup|ipproto|sport|dport|uidrange|tos|suppress|goto|nop|blackhole|unreachable|prohibit)\b/.test(body)) return "rule";
  // netconf: "inet eth1 rp_filter strict" / "inet6 all forwarding on"
  const nc = /^(?:ipv4 |ipv6 )?(?:dev )?(inet6?|ipv4|ipv6) (\S+) /.exec(body);
  if (nc && /\b(rp_filter|forwarding|proxy_neigh|mc_forwarding)\b/.test(body)) return scope.interfaces.has(nc[2]) || nc[2] === "all" || nc[2] === "default" ? "sysctl" : null;
  // links: "7: eth1@if6: <BROADCAST,...> ..." ; addresses: "7: eth1    inet 10.1.1.8/24 ..."
  const la = /^[0-9]+: ([^:@\s]+)(?:@\S+)?:? /.exec(body);
  if (la) {
    if (!scope.interfaces.has(la[1])) return null;
    return /\binet6? /.test(body) ? "address" : "link";
  }
  // routes: ours by their tag, or anything in a table symroute uses
  if (PROTO.test(body)) return "route";
  const table = /\btable ([0-9]+)\b/.exec(body);
  if (table && scope.tables.has(Number(table[1]))) return "route";
  if (scope.held?.size && scope.held.has(body.replace(/^(unicast|local|broadcast|unreachable|prohibit|blackhole|throw) /, "").split(" ")[0])) return "route";
  return null;
}
