/**
 * What the routed path (inet table) and the fast path (netdev table) of a load
 * balancer share, so that both take the same decision for a flow: the hash
 * keys, the names of chains and flow sets, the Maglev maps and the flow-memory
 * chains with their rule that a TCP SYN is a new flow.
 */
import type { NftChain, NftMap, NftRule } from "../model/nftTable.js";
import { gotoChain, jumpMap, markVmap, matchRemembered, type HashField, type NftStatement } from "../model/nftExpr.js";
import { forgetFlow, matchTcpSyn } from "../model/nftFastPath.js";
import type { Family } from "../net/ip.js";
import { fnv1a32 } from "../maglev/hash.js";
import { lbComment } from "../model/names.js";

/** The jhash keys: flows with ports, pings (addresses only), and ICMP errors (the quoted packet's flow). */
export const HASH_KEYS: Record<"ports" | "ping" | "error", Record<Family, HashField[]>> = {
  ports: {
    4: [{ protocol: "ip", field: "saddr" }, { protocol: "ip", field: "daddr" }, { protocol: "th", field: "sport" }, { protocol: "th", field: "dport" }],
    6: [{ protocol: "ip6", field: "saddr" }, { protocol: "ip6", field: "daddr" }, { protocol: "th", field: "sport" }, { protocol: "th", field: "dport" }],
  },
  ping: {
    4: [{ protocol: "ip", field: "saddr" }, { protocol: "ip", field: "daddr" }],
    6: [{ protocol: "ip6", field: "saddr" }, { protocol: "ip6", field: "daddr" }],
  },
  // the packet quoted in an ICMP error is a reply (VIP to client): its destination,
  // source and ports swapped give the original flow's key
  error: {
    4: [{ base: "th", offset: 192, len: 32 }, { base: "th", offset: 160, len: 32 }, { base: "th", offset: 240, len: 16 }, { base: "th", offset: 224, len: 16 }],
    6: [{ base: "th", offset: 256, len: 128 }, { base: "th", offset: 128, len: 128 }, { base: "th", offset: 400, len: 16 }, { base: "th", offset: 384, len: 16 }],
  },
};

/** Protocols with ports: the ones a flow memory remembers and the fast path forwards (ICMP hashes by addresses). */
export const PORT_PROTOCOLS = ["tcp", "udp", "sctp"];

/**
 * The most entries one named map holds. The kernel dumps a set's elements in
 * rounds, and each round walks the set from its start, so listing one map of
 * n entries costs n²; maps of this size keep a listing linear in the table.
 */
export const MAP_CHUNK = 4096;

/** A target's flow-memory set for one family: named after its chain, so it comes and goes with the target. */
export function flowSetName(chain: string, family: 4 | 6): string {
  return `${chain}_f${family}`;
}

/** The chain of a target: a stable name from the balancer and the target's name. */
export function targetChain(prefix: string, target: string): string {
  return `${prefix}_t_${fnv1a32(target).toString(16).padStart(8, "0")}`;
}

/** The seed of a balancer's jhash: from its name, so every frontend agrees. */
export function balancerSeed(name: string): number {
  return fnv1a32(`symroute-lb:${name}`);
}

/** Where chains, maps and rules of one table go while a balancer is compiled. */
export interface TableSink {
  maps: NftMap[];
  chains: NftChain[];
  nftRules: NftRule[];
}

/**
 * The Maglev table as named maps keyed by the entry, so a target change rewrites
 * only the entries that move; returns the statement that looks an entry up.
 * A table of more than MAP_CHUNK entries is split into maps of MAP_CHUNK entries,
 * each behind its own chain, with one range lookup choosing the part.
 */
export function maglevMaps(lbName: string, mapName: string, partChain: string, entries: string[], sink: TableSink): NftStatement {
  if (entries.length <= MAP_CHUNK) {
    sink.maps.push({ name: mapName, elem: entries.map((chain, i) => [i, chain]) });
    return markVmap(mapName);
  }
  const ranges: [[number, number], string][] = [];
  for (let first = 0, k = 0; first < entries.length; first += MAP_CHUNK, k++) {
    const last = Math.min(first + MAP_CHUNK, entries.length) - 1;
    const elem: [number, string][] = [];
    for (let i = first; i <= last; i++) elem.push([i, entries[i]]);
    sink.maps.push({ name: `${mapName}_${k}`, elem });
    sink.chains.push({ name: `${partChain}_${k}` });
    sink.nftRules.push({ chain: `${partChain}_${k}`, statements: [markVmap(`${mapName}_${k}`)], comment: lbComment(lbName, { kind: "entries", first, last }) });
    ranges.push([[first, last], `${partChain}_${k}`]);
  }
  return jumpMap({ kind: "mark" }, ranges);
}

/**
 * The flow memory's two chains for one family. `recall` sends a remembered flow
 * to its target before any hashing, except a TCP SYN: a new connection takes the
 * table's decision even when an earlier connection from the same source port is
 * still remembered (so a drained target gets none), and `syn` first forgets the
 * 4-tuple in every set, so the target chosen now is the one remembered next.
 * Both chains have a rule per target and are rewritten in place as targets change.
 */
export function memoryChains(lbName: string, family: 4 | 6, names: { recall: string; syn: string; ports: string }, recalled: { target: string; chain: string; set: string }[], sink: TableSink): void {
  sink.chains.push({ name: names.recall }, { name: names.syn });
  sink.nftRules.push({ chain: names.recall, statements: [matchTcpSyn(), gotoChain(names.syn)], comment: lbComment(lbName, { kind: "syn" }) });
  for (const r of recalled) {
    sink.nftRules.push({ chain: names.recall, statements: [matchRemembered(family, r.set), gotoChain(r.chain)], comment: lbComment(lbName, { kind: "memory", target: r.target }) });
    sink.nftRules.push({ chain: names.syn, statements: [forgetFlow(family, r.set)], comment: lbComment(lbName, { kind: "syn forgets", target: r.target }) });
  }
  sink.nftRules.push({ chain: names.recall, statements: [gotoChain(names.ports)], comment: lbComment(lbName, { kind: "not remembered" }) });
  sink.nftRules.push({ chain: names.syn, statements: [gotoChain(names.ports)], comment: lbComment(lbName, { kind: "new connection" }) });
}
