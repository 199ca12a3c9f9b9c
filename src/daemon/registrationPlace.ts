/**
 * Where a target registered at run time may send a VIP's traffic (issue 17).
 * A registration arrives from the network, so it is held to the balancer's
 * own conduits: the interface must be one of them, the next hop must be on
 * that conduit's subnet (or inside the file's `registration.allow`), and it
 * is never an address of this frontend, a VIP or a gateway. Without this, a
 * token holder could point a VIP's flows out of an uplink or back into the
 * frontend itself. Pure: the interfaces' addresses are handed in.
 */
import type { Config, LoadBalancer } from "../config/schema.js";
import { canonicalAddress, formatPrefix, networkOf, parseAddress, parsePrefix, prefixContains, type Prefix } from "../net/ip.js";

/** Interface name to its addresses as CIDR text, as the engine reads them from the kernel. */
export type LinkAddresses = Record<string, { addresses: string[] }>;

/** The place a target asks for: its interface and next hops. */
export interface TargetPlace {
  interface: string;
  via?: string;
  via6?: string;
}

/** The interfaces registered targets may use: the file's list, else those of the file's own targets. */
export function conduitsOf(lb: LoadBalancer): string[] {
  return lb.registration?.conduits ?? [...new Set(lb.targets.map((t) => t.interface))];
}

/** Addresses no target may be reached through, each with why: the frontend's own, the VIPs, the gateways. */
function forbidden(config: Config, links: LinkAddresses): Map<string, string> {
  const out = new Map<string, string>();
  const put = (text: string | undefined, why: string) => {
    if (text && parseAddress(text) && !out.has(canonicalAddress(text))) out.set(canonicalAddress(text), why);
  };
  for (const [name, link] of Object.entries(links)) for (const a of link.addresses) put(a.split("/")[0], `an address of this frontend (on ${name})`);
  for (const lb of config.loadBalancers) {
    for (const v of lb.vips) put(v, `a VIP of ${lb.name}`);
    put(lb.egress?.gateway, `the egress gateway of ${lb.name}`);
    put(lb.egress?.gateway6, `the egress gateway of ${lb.name}`);
  }
  for (const u of config.uplinks) {
    put(u.gateway, `the gateway of uplink ${u.name}`);
    put(u.gateway6, `the gateway of uplink ${u.name}`);
  }
  for (const n of config.routedNetworks) {
    put(n.gateway, `the gateway of routed network ${n.name}`);
    put(n.gateway6, `the gateway of routed network ${n.name}`);
  }
  return out;
}

/** The prefixes a next hop of this family may be in: the file's allow list, else the conduit's subnets. */
function allowedPrefixes(lb: LoadBalancer, conduit: string, family: 4 | 6, links: LinkAddresses): { prefixes: Prefix[]; from: string } {
  const allow = lb.registration?.allow;
  if (allow) return { prefixes: allow.map(parsePrefix).filter((p): p is Prefix => p?.family === family), from: `${lb.name}'s registration.allow` };
  const subnets = (links[conduit]?.addresses ?? []).map(parsePrefix).filter((p): p is Prefix => p?.family === family).map(networkOf);
  return { prefixes: subnets, from: `the subnets of ${conduit}` };
}

/**
 * Every reason this balancer refuses the target's place, each starting with
 * the field it is about ("interface: ...", "via: ..."); empty when it is fine.
 */
export function placeProblems(config: Config, lb: LoadBalancer, target: TargetPlace, links: LinkAddresses): string[] {
  const conduits = conduitsOf(lb);
  if (!conduits.includes(target.interface)) {
    const list = conduits.length ? conduits.join(", ") : "none: the file has no targets and no registration.conduits";
    return [`interface: ${target.interface} is not one of ${lb.name}'s conduits (${list}); a registered target uses a conduit of the balancer (widen with registration.conduits)`];
  }
  const problems: string[] = [];
  const taken = forbidden(config, links);
  for (const [field, family] of [["via", 4], ["via6", 6]] as const) {
    const text = target[field];
    const address = text ? parseAddress(text) : null;
    if (!text || !address) continue;
    const why = taken.get(canonicalAddress(text));
    if (why) {
      problems.push(`${field}: ${text} is ${why}; a target's next hop is another host on the conduit`);
      continue;
    }
    const { prefixes, from } = allowedPrefixes(lb, target.interface, family, links);
    const inside = prefixes.find((p) => prefixContains(p, address));
    if (!inside) {
      const shown = prefixes.length ? prefixes.map((p) => formatPrefix(p, false)).join(", ") : "none of this family";
      problems.push(`${field}: ${text} is not in ${from} (${shown}); a registered target is a host on its conduit (widen with registration.allow)`);
      continue;
    }
    // the subnet's own network and broadcast addresses are nobody's next hop
    if (family === 4 && inside.length < 31 && !lb.registration?.allow) {
      const net = networkOf(inside).value;
      const broadcast = net | ((1n << BigInt(32 - inside.length)) - 1n);
      if (address.value === net || address.value === broadcast) problems.push(`${field}: ${text} is the ${address.value === net ? "network" : "broadcast"} address of ${formatPrefix(inside, false)}`);
    }
  }
  return problems;
}
