/**
 * `render --format networkd`: routes and rules as systemd-networkd drop-ins,
 * one per interface, and a sysctl.d file for the kernel settings networkd
 * cannot set, for hosts whose network is managed by networkd.
 *
 * Which settings networkd can hold depends on its version: `IPv4ReversePathFilter=`
 * exists from systemd 255 on; 252 (Debian 12) ignores it with a warning and
 * rp_filter stays strict. `IPv4ProxyARP=` and `IPv6ProxyNDP=` are much older
 * and must stay in the .network file: networkd writes proxy_ndp (0 unless the
 * file asks for it) every time it configures a link, so a sysctl.d value
 * would be overwritten. Everything else (rp_filter before 255, `all` and
 * `default` keys, forwarding, proxy_delay) goes to sysctl.d.
 */
import type { Desired } from "../model/desired.js";
import type { Route } from "../model/route.js";
import type { RoutingRule } from "../model/rule.js";
import type { Sysctl } from "../model/sysctl.js";
import { hex } from "../model/rule.js";

/** The first systemd version whose networkd reads `IPv4ReversePathFilter=`. */
export const NETWORKD_RP_FILTER_VERSION = 255;

/** Where the sysctl.d part goes: after the distribution's own files (lexical order), so its values win. */
export const SYSCTL_D_PATH = "/etc/sysctl.d/90-symroute.conf";

interface DevEntry {
  routes: Route[];
  rules: RoutingRule[];
  rp?: string;
  network: string[];
  addresses: string[];
}

/** Drop-in files as `# file: PATH` sections, for networkd of the given systemd version. */
export function renderNetworkd(desired: Desired, systemdVersion: number): string {
  const byDev = new Map<string, DevEntry>();
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
  const sysctlD: Sysctl[] = [];
  const rpKeyword = systemdVersion >= NETWORKD_RP_FILTER_VERSION;
  for (const s of desired.sysctls) {
    const rp = /^net\/ipv4\/conf\/([^/]+)\/rp_filter$/.exec(s.key);
    const arp = /^net\/ipv4\/conf\/([^/]+)\/proxy_arp$/.exec(s.key);
    const ndp = /^net\/ipv6\/conf\/([^/]+)\/proxy_ndp$/.exec(s.key);
    const perDev = (m: RegExpExecArray | null): m is RegExpExecArray => !!m && m[1] !== "all" && m[1] !== "default";
    if (perDev(rp) && rpKeyword) entry(rp[1]).rp = { "0": "no", "1": "strict", "2": "loose" }[s.value];
    else if (perDev(arp)) entry(arp[1]).network.push(`IPv4ProxyARP=${s.value === "1" ? "yes" : "no"}`);
    else if (perDev(ndp)) entry(ndp[1]).network.push(`IPv6ProxyNDP=${s.value === "1" ? "yes" : "no"}`);
    else sysctlD.push(s);
  }

  const out: string[] = [
    `# systemd-networkd ${systemdVersion} drop-ins: name each directory after the .network file that matches the interface (e.g. 10-eth1.network.d)`,
    ...(rpKeyword ? [] : [`# rp_filter is in ${SYSCTL_D_PATH}: networkd reads IPv4ReversePathFilter= only from systemd ${NETWORKD_RP_FILTER_VERSION} on`]),
    ...(desired.nft ? ["# Marks are not networkd's job: load them with `symroute render --format nft` (nftables.service)."] : []),
  ];
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
  if (sysctlD.length) {
    out.push(
      `# file: ${SYSCTL_D_PATH}`,
      // networkd never applies sysctl.d itself: say who does, so nobody waits for a reload to do it
      "# applied by systemd-sysctl at boot and, for an interface's own keys, by udev when the interface appears;",
      `# to apply now: /lib/systemd/systemd-sysctl ${SYSCTL_D_PATH}. Slash keys: interface names may hold dots.`,
      ...sysctlD.map((s) => `${s.key} = ${s.value}`),
      "",
    );
  }
  return out.join("\n") + "\n";
}
