/**
 * `render --format networkd`: routes and rules as systemd-networkd drop-ins,
 * one per interface, for hosts whose network is managed by networkd.
 */
import type { Desired } from "../model/desired.js";
import type { Route } from "../model/route.js";
import type { RoutingRule } from "../model/rule.js";
import { hex } from "../model/rule.js";

/** Drop-in files as `# file: PATH` sections. */
export function renderNetworkd(desired: Desired): string {
  const byDev = new Map<string, { routes: Route[]; rules: RoutingRule[]; rp?: string; network: string[]; addresses: string[] }>();
  const entry = (dev: string) => {
    if (!byDev.has(dev)) byDev.set(dev, { routes: [], rules: [], network: [], addresses: [] });
    return byDev.get(dev)!;
  };
  for (const e of desired.extras ?? []) {
    if (e.kind === "addr") entry(e.dev).addresses.push(e.address);
    else entry(e.dev).network.push(`IPv6ProxyNDPAddress=${e.address}`);
  }
  for (const r of desired.routes) entry(r.dev ?? "lo").routes.push(r);
  for (const rule of desired.rules) {
    const dev = rule.iif ?? desired.routes.find((r) => r.table === rule.table && r.dev)?.dev ?? "lo";
    entry(dev).rules.push(rule);
  }
  for (const s of desired.sysctls) {
    const m = /^net\/ipv4\/conf\/([^/]+)\/rp_filter$/.exec(s.key);
    if (m && m[1] !== "all" && m[1] !== "default") entry(m[1]).rp = { "0": "no", "1": "strict", "2": "loose" }[s.value];
    const arp = /^net\/ipv4\/conf\/([^/]+)\/proxy_arp$/.exec(s.key);
    if (arp) entry(arp[1]).network.push(`IPv4ProxyARP=${s.value === "1" ? "yes" : "no"}`);
    const ndp = /^net\/ipv6\/conf\/([^/]+)\/proxy_ndp$/.exec(s.key);
    if (ndp) entry(ndp[1]).network.push(`IPv6ProxyNDP=${s.value === "1" ? "yes" : "no"}`);
  }
  const out: string[] = [];
  for (const [dev, e] of [...byDev.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    out.push(`# file: /etc/systemd/network/${dev}.network.d/50-symroute.conf`);
    const network = [...(e.rp ? [`IPv4ReversePathFilter=${e.rp}`] : []), ...e.network];
    if (network.length) out.push("[Network]", ...network, "");
    for (const a of e.addresses) out.push("[Address]", `Address=${a}`, "");
    for (const r of e.routes) {
      out.push("[Route]");
      if (r.dst !== "default") out.push(`Destination=${r.dst}`);
      if (r.gateway) out.push(`Gateway=${r.gateway}`);
      if (r.scope) out.push(`Scope=${r.scope}`);
      if (r.metric !== undefined) out.push(`Metric=${r.metric}`);
      out.push(`Table=${r.table === 254 ? "main" : r.table}`, "");
    }
    for (const r of e.rules) {
      out.push("[RoutingPolicyRule]", `Family=${r.family === 4 ? "ipv4" : "ipv6"}`);
      if (r.src) out.push(`From=${r.src}`);
      if (r.dst) out.push(`To=${r.dst}`);
      if (r.iif) out.push(`IncomingInterface=${r.iif}`);
      if (r.fwmark !== undefined) out.push(`FirewallMark=${hex(r.fwmark)}/${hex(r.fwmask ?? 0xffffffff)}`);
      out.push(`Table=${r.table}`, `Priority=${r.priority}`, "");
    }
  }
  if (desired.nft) out.push("# Marks are not networkd's job: load them with `symroute render --format nft` (nftables.service).");
  return out.join("\n") + "\n";
}
