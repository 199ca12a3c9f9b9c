/**
 * Seed 001: a routable subnet shared by virtual machines on several hosts.
 * Hosts proxy ARP (and NDP) for their instances, route the network's traffic
 * through an extra table, and one node is the external router, with or
 * without NAT. Three roles: host, router, host-router.
 */
import type { ResolvedConfig } from "../config/resolved.js";
import type { RoutedNetwork } from "../config/schema.js";
import { ipv4Conf } from "../model/sysctl.js";
import { counter, masquerade, matchArpRequest, matchOifname, matchSaddr, setArpSaddr } from "../model/nftExpr.js";
import { canonicalAddress, canonicalPrefix, parsePrefix } from "../net/ip.js";
import type { Allocation } from "./allocate.js";
import { emptyPart, type Part } from "./parts.js";

/** nft's nat priority for postrouting (srcnat). */
const SRCNAT_PRIO = 100;

/** Compiles every routed network. */
export function compileRoutedNetworks(resolved: ResolvedConfig, alloc: Allocation): Part {
  const part = emptyPart();
  const networks = resolved.config.routedNetworks;
  if (networks.length === 0) return part;
  if (networks.some((n) => n.masquerade)) part.chains.push({ name: "postrouting", type: "nat", hook: "postrouting", prio: SRCNAT_PRIO, policy: "accept" });
  for (const net of networks) compileOne(net, alloc.networkTable.get(net.name)!, part);
  return part;
}

function compileOne(net: RoutedNetwork, table: number, part: Part): void {
  const dev = net.interface;
  const hosting = net.role !== "router";
  const taps = [...new Set(net.instances.map((i) => i.tap))];
  const why = `routed network ${net.name} (${net.role})`;
  for (const family of [4, 6] as const) {
    const subnet = family === 4 ? net.subnet : net.subnet6;
    if (!subnet) continue;
    const s = canonicalPrefix(subnet);
    const prefix = parsePrefix(subnet)!;
    const gateway = family === 4 ? net.gateway : net.gateway6 && canonicalAddress(net.gateway6);
    part.sysctls.push(family === 4 ? { key: "net/ipv4/ip_forward", value: "1", why } : { key: "net/ipv6/conf/all/forwarding", value: "1", why });
    if (net.role !== "host" && gateway) {
      // the router owns the gateway address; the host-router holds it alone (/32, /128), as the seed does
      const len = net.role === "router" ? prefix.length : family === 4 ? 32 : 128;
      part.extras.push({ kind: "addr", family, dev, address: `${gateway}/${len}`, why: `${why}: gateway address` });
    }
    if (net.role === "router" || net.role === "host-router") {
      if (net.masquerade)
        part.nftRules.push({ chain: "postrouting", statements: [matchSaddr(family, [s]), matchOifname(net.masquerade.interface), masquerade()], comment: `${net.name}: NAT toward ${net.masquerade.interface}` });
    }
    if (!hosting) continue;
    // traffic arriving from the network or from an instance is routed by the network's table
    part.rules.push({ group: "network", family, table, iif: dev, why: `${why}: from the network` });
    for (const tap of taps) part.rules.push({ group: "network", family, table, iif: tap, why: `${why}: from an instance` });
    if (net.role === "host-router") part.rules.push({ group: "network", family, table, dst: s, why: `${why}: the host to the instances` });
    part.routes.push({ family, table, dst: s, dev, ...(family === 4 ? { scope: "link" as const } : {}), why: `${why}: instance to instance across hosts` });
    if (net.role === "host") {
      part.routes.push({ family, table: 254, dst: s, dev, ...(family === 4 ? { scope: "link" as const } : {}), why: `${why}: the host reaches instances on other hosts` });
      if (gateway) part.routes.push({ family, table, dst: "default", gateway, dev, why: `${why}: instances leave by the router` });
    }
    for (const inst of net.instances) {
      const address = family === 4 ? inst.address : inst.address6 && canonicalAddress(inst.address6);
      if (!address) continue;
      part.routes.push({ family, table, dst: address, dev: inst.tap, ...(family === 4 ? { scope: "link" as const } : {}), why: `${why}: instance on ${inst.tap}` });
      if (family === 4) part.announce.push({ dev, address, route: `${table} ${address} ${inst.tap}` });
      else {
        part.extras.push({ kind: "neighProxy", family: 6, dev, address, why: `${why}: answer neighbour solicitations for the instance` });
        if (gateway) part.extras.push({ kind: "neighProxy", family: 6, dev: inst.tap, address: gateway, why: `${why}: the instance's gateway on ${inst.tap}` });
      }
    }
    if (family === 4) {
      for (const d of [dev, ...taps]) {
        part.sysctls.push({ key: ipv4Conf(d, "proxy_arp"), value: "1", why: `${why}: proxy ARP` });
        // the default proxy_delay holds each proxied answer back by up to 0.8 s
        part.sysctls.push({ key: `net/ipv4/neigh/${d}/proxy_delay`, value: "0", why: `${why}: answer proxied ARP at once` });
      }
      if (net.arpSource && net.role === "host")
        part.arpRules.push({ chain: "output", statements: [matchOifname(dev), matchArpRequest(), setArpSaddr(net.arpSource), counter()], comment: `${net.name}: the host's ARP requests speak for ${net.arpSource}` });
      if (gateway)
        for (const tap of taps)
          part.arpRules.push({ chain: "output", statements: [matchOifname(tap), matchArpRequest(), setArpSaddr(gateway), counter()], comment: `${net.name}: instances see only the gateway on ${tap}` });
    } else {
      for (const d of [dev, ...taps]) {
        part.sysctls.push({ key: `net/ipv6/conf/${d}/proxy_ndp`, value: "1", why: `${why}: proxy NDP` });
        // proxied neighbour advertisements wait for proxy_delay too
        part.sysctls.push({ key: `net/ipv6/neigh/${d}/proxy_delay`, value: "0", why: `${why}: answer proxied NDP at once` });
      }
    }
  }
}
