/**
 * Names the target a flow reaches through one of symroute's load balancers:
 * the jhash key laid out as nft's registers hold it (addresses in network
 * order, each port in the first two bytes of a 4-byte register), the entry,
 * and the Maglev table's owner.
 */
import type { BalancerInfo, BalancerTarget } from "../model/balancer.js";
import { parseAddress, type Address } from "../net/ip.js";
import { jhash, scaleToMod } from "./jhash.js";

/** An address's bytes in network order, as nft's registers hold it (the key of `jhash ip saddr`). */
export function addressBytes(a: Address): number[] {
  const n = a.family === 4 ? 4 : 16;
  const out: number[] = [];
  for (let i = n - 1; i >= 0; i--) out.push(Number((a.value >> BigInt(i * 8)) & 0xffn));
  return out;
}

/** The key bytes of `jhash saddr . daddr [. th sport . th dport]`. */
export function flowKey(src: Address, dst: Address, ports?: { sport: number; dport: number }): Uint8Array {
  const bytes = [...addressBytes(src), ...addressBytes(dst)];
  if (ports) for (const port of [ports.sport, ports.dport]) bytes.push((port >> 8) & 0xff, port & 0xff, 0, 0);
  return Uint8Array.from(bytes);
}

/** Where a flow to one of the balancer's VIPs goes; null when the packet is not for this balancer. */
export function balancerTarget(b: BalancerInfo, src: string, dst: string, ports?: { sport: number; dport: number }): { entry: number; target: BalancerTarget } | null {
  const s = parseAddress(src);
  const d = parseAddress(dst);
  const table = d?.family === 6 && b.table6 ? b.table6 : b.table;
  if (!s || !d || !b.vips.includes(dst) || table.length === 0) return null;
  const entry = scaleToMod(jhash(flowKey(s, d, ports), b.seed), b.size);
  const owner = table[entry];
  const target = b.targets.find((t) => t.name === owner);
  return target ? { entry, target } : null;
}
