/**
 * The fast path of a balancer as the simulator sees it: whether a packet
 * arriving on an interface is forwarded at ingress (netdev `fwd`) or falls
 * through to the routed path, and why. Mirrors compile/fastPath.ts's match:
 * ingress interface, VIP, unfragmented, hops left, a port flow.
 */
import type { BalancerInfo, BalancerTarget } from "../model/balancer.js";
import { parseAddress, parsePrefix, prefixContains } from "../net/ip.js";
import type { Packet } from "./types.js";

const PORT_PROTOCOLS: Record<number, string> = { 6: "tcp", 17: "udp", 132: "sctp" };

/** Whether the fast path takes the packet; when not, the reason (null: the balancer has no fast path there). */
export function fastPathVerdict(b: BalancerInfo, p: Packet): { taken: true } | { taken: false; why: string } | null {
  const fast = b.fastPath;
  if (!fast || !p.iif || !fast.ingress.includes(p.iif) || !b.vips.includes(p.dst)) return null;
  if (p.fragment) return { taken: false, why: "a fragment: the routed path reassembles it first" };
  if (p.ttl !== undefined && p.ttl <= 1) return { taken: false, why: `${p.family === 4 ? "TTL" : "hop limit"} ${p.ttl}: the routed path answers "time exceeded"` };
  const proto = p.proto === undefined ? undefined : PORT_PROTOCOLS[p.proto];
  if (!proto) return { taken: false, why: `${p.proto === 1 || p.proto === 58 ? "ICMP" : "not TCP, UDP or SCTP"}: only port flows take the fast path` };
  const src = p.src ? parseAddress(p.src) : null;
  const inRange = (specs: string[] | undefined, port: number | undefined) =>
    !specs?.length || (port !== undefined && specs.some((s) => {
      const [a, z] = s.split("-").map(Number);
      return port >= a && port <= (z ?? a);
    }));
  const flow = fast.flows.find(
    (f) =>
      f.protocols.includes(proto) &&
      inRange(f.destinationPorts, p.dport) &&
      inRange(f.sourcePorts, p.sport) &&
      (!f.sources?.length || (src !== null && f.sources.some((s) => {
        const pre = parsePrefix(s);
        return pre !== null && pre.family === src.family && prefixContains(pre, src);
      }))),
  );
  return flow ? { taken: true } : { taken: false, why: "no flow of the balancer matches it" };
}

/** The text of the forward a fast path makes. */
export function fastPathForward(b: BalancerInfo, t: BalancerTarget, p: Packet): string {
  const via = p.family === 4 ? t.via : t.via6;
  return `load balancer ${b.name}: fast path (netdev ingress on ${p.iif}): fwd ${p.family === 4 ? "ip" : "ip6"} to ${via} device ${t.interface} (TTL lowered by fwd); ip rules, routing tables, rp_filter and the forward and postrouting hooks are skipped`;
}
