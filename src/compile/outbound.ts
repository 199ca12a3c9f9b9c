/**
 * Issue 11: outgoing connections from `outbound[].from` shared over uplinks.
 * Of a policy's uplinks, the live ones of the lowest tier with a live member
 * carry new connections, each drawn by weight: at random per connection
 * (`numgen`) or by a hash of the source address (`jhash`). The chosen uplink's
 * mark goes into the connection mark and the packet mark; uplinks.ts restores
 * it for the rest of the connection and routes each mark by its uplink's table.
 */
import type { ResolvedConfig } from "../config/resolved.js";
import type { Config, Outbound, Uplink } from "../config/schema.js";
import type { HostFacts } from "../model/facts.js";
import { counter, drawVmap, masquerade, matchCtMark, matchCtStateNew, matchIifname, matchOifname, matchSaddr, setCtMark, setMetaMark, type DrawKey } from "../model/nftExpr.js";
import { formatPrefix, networkOf, parsePrefix, type Family } from "../net/ip.js";
import type { NftStatement } from "../model/nftExpr.js";
import type { Allocation } from "./allocate.js";
import { emptyPart, MANGLE_PRIO, type Part } from "./parts.js";

/** nft's nat priority for postrouting (srcnat). */
const SRCNAT_PRIO = 100;

/** The uplinks a policy shares connections over, in the order given (all uplinks when it names none). */
export function policyUplinks(config: Config, policy: Outbound): Uplink[] {
  const byName = new Map(config.uplinks.map((u) => [u.name, u]));
  return (policy.uplinks ?? config.uplinks.map((u) => u.name)).map((n) => byName.get(n)).filter((u): u is Uplink => u !== undefined);
}

/** Names of the uplinks some outbound policy may choose: each needs its mark restored and routed. */
export function outboundUplinkNames(config: Config): Set<string> {
  return new Set(config.outbound.flatMap((p) => policyUplinks(config, p).map((u) => u.name)));
}

/** The chain that gives a connection of `policy` to `uplink`. */
export function outboundChain(policy: string, uplink: string): string {
  return `outbound_${policy}_${uplink}`;
}

/** The uplinks that carry new connections: the live ones of the lowest tier that has any (none when all are down). */
export function liveTier(uplinks: Uplink[], isDown: (u: Uplink) => boolean): Uplink[] {
  const live = uplinks.filter((u) => !isDown(u));
  if (live.length === 0) return [];
  const tier = Math.min(...live.map((u) => u.tier));
  return live.filter((u) => u.tier === tier);
}

/** Consecutive inclusive ranges of [0, total) sized by weight, in order. */
export function weightRanges(uplinks: Uplink[]): { total: number; ranges: [[number, number], Uplink][] } {
  let next = 0;
  const ranges = uplinks.map((u): [[number, number], Uplink] => {
    const range: [number, number] = [next, next + u.weight - 1];
    next += u.weight;
    return [range, u];
  });
  return { total: next, ranges };
}

/** A fixed jhash seed per policy (FNV-1a of its name), so a re-apply keeps every source on its uplink. */
export function policySeed(name: string): number {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(`outbound/${name}`)) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return h >>> 0;
}

/** Compiles every outbound policy; `down` names the uplinks health checks found dead. */
export function compileOutbound(resolved: ResolvedConfig, alloc: Allocation, facts: HostFacts, down: ReadonlySet<string>): Part {
  const part = emptyPart();
  const { config } = resolved;
  if (config.outbound.length === 0) return part;
  const mask = alloc.markMask;
  // an interface that is missing or set down carries nothing, like a failed health check (offline, no facts: all live)
  const known = Object.keys(facts.links).length > 0;
  const isDown = (u: Uplink) => down.has(u.name) || (known && (!facts.links[u.interface] || facts.links[u.interface].up === false));
  const uplinkIfaces = config.uplinks.map((u) => u.interface);

  part.chains.push(
    { name: "prerouting", type: "filter", hook: "prerouting", prio: MANGLE_PRIO, policy: "accept" },
    { name: "output", type: "route", hook: "output", prio: MANGLE_PRIO, policy: "accept" },
  );
  if (config.outbound.some((p) => p.masquerade)) part.chains.push({ name: "postrouting", type: "nat", hook: "postrouting", prio: SRCNAT_PRIO, policy: "accept" });

  for (const policy of config.outbound) {
    const uplinks = policyUplinks(config, policy);
    for (const u of uplinks) {
      const chain = outboundChain(policy.name, u.name);
      const mark = alloc.uplinkMark.get(u.name)!;
      part.chains.push({ name: chain });
      part.nftRules.push({ chain, statements: [setCtMark(mask, mark), setMetaMark(mask, mark), counter()], comment: `outbound ${policy.name}: new connection by ${u.name}` });
    }
    const chosen = liveTier(uplinks, isDown);
    const downNames = uplinks.filter(isDown).map((u) => u.name);
    if (downNames.length) part.warnings.push(`outbound ${policy.name}: uplink${downNames.length > 1 ? "s" : ""} ${downNames.join(", ")} down; new connections by ${chosen.length ? chosen.map((u) => u.name).join(", ") : "the main table (no uplink is live)"}`);
    const { total, ranges } = weightRanges(chosen);
    (part.outbound ??= []).push({
      name: policy.name,
      from: policy.from,
      sticky: policy.sticky,
      seed: policySeed(policy.name),
      total,
      draw: ranges.map(([[first, last], u]) => ({ uplink: u.name, mark: alloc.uplinkMark.get(u.name)!, first, last })),
    });
    for (const family of [4, 6] as const) {
      const prefixes = policy.from.map(parsePrefix).filter((p) => p !== null && p.family === family);
      if (prefixes.length === 0) continue;
      const from = fromMatch(family, [...new Set(prefixes.map((p) => formatPrefix(networkOf(p!))))], prefixes.some((p) => p!.length === 0));
      if (chosen.length > 0) {
        const key: DrawKey = policy.sticky === "source" ? { kind: "source", family, mod: total, seed: policySeed(policy.name) } : { kind: "random", mod: total };
        const draw = drawVmap(key, ranges.map(([range, u]) => [range, outboundChain(policy.name, u.name)]));
        // a connection stays new until its first reply: its later packets keep the uplink of its first (restored by uplinks.ts), never drawn again
        const undecided = [matchCtStateNew(), matchCtMark(mask, 0)];
        part.nftRules.push(
          { chain: "prerouting", statements: [matchIifname(uplinkIfaces, true), ...undecided, from, draw], comment: `outbound ${policy.name}: forwarded connections` },
          { chain: "output", statements: [...undecided, from, draw], comment: `outbound ${policy.name}: the host's connections` },
        );
      }
      if (policy.masquerade)
        for (const u of uplinks)
          part.nftRules.push({ chain: "postrouting", statements: [matchOifname(u.interface), from, masquerade()], comment: `outbound ${policy.name}: NAT toward ${u.name}` });
    }
  }
  return part;
}

/** `ip saddr { ... }`, or for a /0 every packet of the family (`meta nfproto ipv4`). */
function fromMatch(family: Family, prefixes: string[], everything: boolean): NftStatement {
  if (!everything) return matchSaddr(family, prefixes);
  const proto = family === 4 ? "ipv4" : "ipv6";
  return { json: { match: { op: "==", left: { meta: { key: "nfproto" } }, right: proto } }, text: `meta nfproto ${proto}` };
}
