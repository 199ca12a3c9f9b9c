/**
 * The statements of a load balancer's fast path (netdev ingress, `fwd`) and of
 * its rule that a TCP SYN is a new flow, built as nft JSON and nft text at once
 * like nftExpr.ts. Strings enter only as JSON values.
 */
import { flowKey, type NftStatement } from "./nftExpr.js";
import type { Family } from "../net/ip.js";

/** `tcp flags & (syn | ack) == syn`: the first packet of a TCP connection (not its SYN-ACK). */
export function matchTcpSyn(): NftStatement {
  return { json: { match: { op: "==", left: { "&": [{ payload: { protocol: "tcp", field: "flags" } }, ["syn", "ack"]] }, right: "syn" } }, text: "tcp flags & (syn | ack) == syn" };
}

/** `delete @SET { ip saddr . ip daddr . th sport . th dport }`: forget the flow (from the packet path). */
export function forgetFlow(family: 4 | 6, set: string): NftStatement {
  const key = flowKey(family);
  return { json: { set: { op: "delete", elem: key.json, set: `@${set}` } }, text: `delete @${set} { ${key.text} }` };
}

/** `fwd ip to VIA device "DEV"` / `fwd ip6 to ...`: out of DEV to the neighbour VIA (the kernel resolves it and lowers the TTL). */
export function forwardTo(family: Family, via: string, dev: string): NftStatement {
  const proto = family === 4 ? "ip" : "ip6";
  return { json: { fwd: { dev, family: proto, addr: via } }, text: `fwd ${proto} to ${via} device ${JSON.stringify(dev)}` };
}

/** `ip frag-off & 0x3fff == 0`: not a fragment (neither more fragments nor an offset); fragments need reassembly. */
export function matchUnfragmented(): NftStatement {
  return { json: { match: { op: "==", left: { "&": [{ payload: { protocol: "ip", field: "frag-off" } }, 0x3fff] }, right: 0 } }, text: "ip frag-off & 0x3fff == 0" };
}

/** `ip ttl > 1` / `ip6 hoplimit > 1`: a packet the next hop may still receive; the last hop's error comes from the routed path. */
export function matchHopsLeft(family: Family): NftStatement {
  const [proto, field] = family === 4 ? ["ip", "ttl"] : ["ip6", "hoplimit"];
  return { json: { match: { op: ">", left: { payload: { protocol: proto, field } }, right: 1 } }, text: `${proto} ${field} > 1` };
}

/** `meta l4proto { tcp, udp }` for IPv4, `ip6 nexthdr { tcp, udp }` for IPv6: the latter also means no extension header (no fragment header). */
export function matchTransport(family: Family, protocols: string[]): NftStatement {
  const right = protocols.length === 1 ? protocols[0] : { set: [...protocols] };
  const text = protocols.length === 1 ? protocols[0] : `{ ${protocols.join(", ")} }`;
  const [left, leftText] = family === 4 ? [{ meta: { key: "l4proto" } }, "meta l4proto"] : [{ payload: { protocol: "ip6", field: "nexthdr" } }, "ip6 nexthdr"];
  return { json: { match: { op: "==", left, right } }, text: `${leftText} ${text}` };
}

/** `jump CHAIN`: a chain that may return, so what it does not take goes on (to the routed path). */
export function jumpChain(chain: string): NftStatement {
  return { json: { jump: { target: chain } }, text: `jump ${chain}` };
}
