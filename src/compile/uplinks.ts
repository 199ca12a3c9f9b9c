/**
 * Seed 004: per uplink a routing table with its default and link routes,
 * `from <address>` rules, CONNMARK of connections by ingress uplink with the
 * mark restored for replies, and rp_filter loosened on the uplink.
 */
import type { ResolvedConfig } from "../config/resolved.js";
import type { Uplink } from "../config/schema.js";
import type { HostFacts } from "../model/facts.js";
import { ipv4Conf } from "../model/sysctl.js";
import { jumpMap, matchIifname, setCtMark, setMetaMark } from "../model/nftExpr.js";
import { familyBits, formatAddress, networkOf, parsePrefix, prefixContains, type Prefix } from "../net/ip.js";
import type { Allocation } from "./allocate.js";
import { emptyPart, MANGLE_PRIO, type Part } from "./parts.js";
import { outboundUplinkNames } from "./outbound.js";

const LINK_LOCAL6 = parsePrefix("fe80::/10")!;

/** The uplink's addresses: from the config, else read from the interface. */
export function uplinkAddresses(uplink: Uplink, facts: HostFacts): Prefix[] {
  const texts = uplink.addresses ?? facts.links[uplink.interface]?.addresses ?? [];
  return texts
    .map((t) => parsePrefix(t))
    .filter((p): p is Prefix => p !== null && !(p.family === 6 && prefixContains(LINK_LOCAL6, p)));
}

/** Compiles every uplink. */
export function compileUplinks(resolved: ResolvedConfig, alloc: Allocation, facts: HostFacts): Part {
  const part = emptyPart();
  const { config } = resolved;
  const mask = alloc.markMask;
  const connmarked = config.uplinks.filter((u) => u.returnTraffic === "connmark");
  // outbound policies mark connections by the uplink they chose: those marks are restored and routed too
  const outbound = outboundUplinkNames(config);
  const restored = config.uplinks.filter((u) => u.returnTraffic === "connmark" || outbound.has(u.name));

  // uplinks that services pin with marks need the fwmark rule too; a set, so many services cost no scan per uplink
  const markServed = new Set(config.services.filter((s) => s.strategy === "mark").map((s) => s.uplink));

  for (const uplink of config.uplinks) {
    const table = alloc.uplinkTable.get(uplink.name)!;
    const dev = uplink.interface;
    // a link that is missing or set down takes no routes: its table stays empty (its rules fall through to main)
    // until it is there and up, when the daemon's next reconcile fills it. Offline (no facts at all) keeps them.
    const known = Object.keys(facts.links).length > 0;
    const absent = known && !facts.links[dev];
    const unusable = absent || facts.links[dev]?.up === false;
    if (absent) part.warnings.push(`uplink ${uplink.name}: interface ${dev} not found; its routes, 'from' rules and rp_filter are left out until it exists`);
    else if (!uplink.addresses && !known) part.warnings.push(`uplink ${uplink.name}: interface ${dev} not found; its link routes and 'from' rules are left out`);
    if (facts.links[dev]?.up === false) {
      part.warnings.push(`uplink ${uplink.name}: interface ${dev} is down; its routes are left out until it is up`);
    } else if (uplink.gateway && !unusable)
      part.routes.push({ family: 4, table, dst: "default", gateway: uplink.gateway, dev, why: `uplink ${uplink.name}: default route` });
    if (uplink.gateway6 && !unusable)
      part.routes.push({ family: 6, table, dst: "default", gateway: formatAddress(parsePrefix(uplink.gateway6)!), dev, why: `uplink ${uplink.name}: default route` });
    const seen = new Set<string>();
    for (const addr of uplinkAddresses(uplink, facts)) {
      const hasGateway = addr.family === 4 ? uplink.gateway : uplink.gateway6;
      if (!hasGateway) continue;
      const host = formatAddress(addr);
      part.rules.push({ group: "uplinkSource", family: addr.family, table, src: host, why: `uplink ${uplink.name}: traffic from its address leaves by it` });
      if (addr.length < familyBits(addr.family) && !unusable) {
        const net = networkOf(addr);
        const dst = `${formatAddress(net)}/${net.length}`;
        if (seen.has(dst)) continue;
        seen.add(dst);
        part.routes.push({ family: addr.family, table, dst, dev, ...(addr.family === 4 ? { scope: "link" as const } : {}), why: `uplink ${uplink.name}: link route` });
      }
    }
    if (uplink.returnTraffic === "connmark" || markServed.has(uplink.name) || outbound.has(uplink.name)) {
      const mark = alloc.uplinkMark.get(uplink.name)!;
      for (const family of [4, 6] as const) {
        if (family === 4 ? !uplink.gateway : !uplink.gateway6) continue;
        part.rules.push({ group: "fwmark", family, table, fwmark: mark, fwmask: mask, why: `uplink ${uplink.name}: marked traffic leaves by it` });
      }
    }
    const rp = rpFilterValue(uplink.rpFilter);
    if (rp !== null && !absent) part.sysctls.push({ key: ipv4Conf(dev, "rp_filter"), value: String(rp), why: `uplink ${uplink.name}: rp_filter ${uplink.rpFilter}` });
  }
  part.rpFilterOff.push(...config.uplinks.filter((u) => u.rpFilter === "off").map((u) => u.interface));

  if (restored.length > 0) {
    part.chains.push(
      { name: "prerouting", type: "filter", hook: "prerouting", prio: MANGLE_PRIO, policy: "accept" },
      { name: "output", type: "route", hook: "output", prio: MANGLE_PRIO, policy: "accept" },
    );
    // one chain per uplink and direction, reached through one map lookup: the
    // ruleset grows with the number of uplinks, and a packet pays one lookup, not a rule per uplink
    const ingress: [string, string][] = [];
    const replies: [number, string][] = [];
    for (const u of restored) {
      const mark = alloc.uplinkMark.get(u.name)!;
      const marking = uplinkChain("in", u.name);
      const reply = uplinkChain("reply", u.name);
      const connmark = u.returnTraffic === "connmark";
      part.chains.push(...(connmark ? [{ name: marking }] : []), { name: reply });
      part.nftRules.push(
        ...(connmark ? [{ chain: marking, statements: [setCtMark(mask, mark)], comment: `uplink ${u.name}: mark connection` }] : []),
        { chain: reply, statements: [setMetaMark(mask, mark)], comment: `uplink ${u.name}: replies` },
      );
      if (connmark) ingress.push([u.interface, marking]);
      replies.push([mark, reply]);
    }
    part.nftRules.push(
      ...(ingress.length ? [{ chain: "prerouting", statements: [jumpMap({ kind: "iifname" }, ingress)], comment: "uplinks: mark connections by the uplink they arrive on" }] : []),
      {
        chain: "prerouting",
        statements: [matchIifname(restored.map((u) => u.interface), true), jumpMap({ kind: "ctMark", mask }, replies)],
        comment: "uplinks: forwarded replies",
      },
      { chain: "output", statements: [jumpMap({ kind: "ctMark", mask }, replies)], comment: "uplinks: local replies" },
    );
  }
  return part;
}

/** The chain an uplink's connections (`in`) or replies (`reply`) jump to. */
export function uplinkChain(direction: "in" | "reply", uplink: string): string {
  return `uplink_${direction}_${uplink}`;
}

function rpFilterValue(mode: Uplink["rpFilter"]): number | null {
  switch (mode) {
    case "loose":
      return 2;
    case "strict":
      return 1;
    case "off":
      return 0;
    case "keep":
      return null;
  }
}
