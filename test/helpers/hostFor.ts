/**
 * Builds a namespace host for any config: every interface the config names
 * becomes a veth to a peer namespace, with an address beside each gateway or
 * next hop the config puts on it, so an apply can install its routes. Host
 * profiles set rp_filter, forwarding, proxy_arp and proxy_ndp the way
 * distributions ship them, before the interfaces exist (they inherit
 * `default`, as at boot).
 */
import { spawn } from "node:child_process";
import { parse, stringify as stringifyYaml } from "yaml";
import type { Lab } from "../../src/lab/lab.js";

/** rp_filter as distributions ship it: 0 (a fresh namespace), 1 (RHEL), 2 (Debian, Ubuntu). */
export type RpProfile = 0 | 1 | 2;

/** A host's preset: rp_filter for all/default and every interface, and forwarding/proxy settings on or not. */
export interface HostProfile {
  rp: RpProfile;
  presets: boolean;
}

type Obj = Record<string, unknown>;

/** The interfaces a config names, each with the next hops that must be reachable on it. */
export function interfacesOf(yamlText: string): Map<string, string[]> {
  const c = parse(yamlText) as Obj;
  const out = new Map<string, string[]>();
  const add = (dev: unknown, ...hops: unknown[]) => {
    if (typeof dev !== "string") return;
    const list = out.get(dev) ?? [];
    for (const h of hops) if (typeof h === "string" && h) list.push(h);
    out.set(dev, list);
  };
  for (const u of (c.uplinks as Obj[] | undefined) ?? []) add(u.interface, u.gateway, u.gateway6);
  for (const lb of (c.loadBalancers as Obj[] | undefined) ?? []) {
    for (const t of (lb.targets as Obj[] | undefined) ?? []) add(t.interface, t.via, t.via6);
    const e = lb.egress as Obj | undefined;
    if (e) add(e.interface, e.gateway, e.gateway6);
  }
  for (const n of (c.routedNetworks as Obj[] | undefined) ?? []) {
    add(n.interface);
    for (const i of (n.instances as Obj[] | undefined) ?? []) add(i.tap);
    add((n.masquerade as Obj | undefined)?.interface);
  }
  return out;
}

/** An address of the host beside a next hop: same /24 or /64, last part 200 (or 201 when the hop is 200). */
export function besideHop(hop: string): string {
  if (hop.includes(":")) {
    const head = hop.replace(/:[0-9a-f]*$/i, "");
    const last = hop.endsWith(":c8") ? "c9" : "c8";
    return `${head}:${last}/64`;
  }
  const parts = hop.split(".");
  parts[3] = parts[3] === "200" ? "201" : "200";
  return `${parts.join(".")}/24`;
}

/** The sysctl writes of a profile for the `all` and `default` entries (interfaces made later inherit `default`). */
export function profileSysctls(p: HostProfile): string[] {
  const v = String(p.rp);
  const out = [`net/ipv4/conf/all/rp_filter=${v}`, `net/ipv4/conf/default/rp_filter=${v}`];
  const on = p.presets ? "1" : "0";
  out.push(`net/ipv4/ip_forward=${on}`, `net/ipv6/conf/all/forwarding=${on}`, `net/ipv4/conf/default/proxy_arp=${on}`, `net/ipv6/conf/default/proxy_ndp=${on}`);
  return out;
}

/** Makes host `h` (and its `peer`) for a config under a profile. */
export async function buildHostFor(lab: Lab, yamlText: string, profile: HostProfile): Promise<string[]> {
  await lab.addHosts("h", "peer");
  await lab.exec("h", ["sysctl", "-q", "-w", ...profileSysctls(profile)]);
  const devs = [...interfacesOf(yamlText).entries()];
  for (const [i, [dev, hops]] of devs.entries()) {
    await lab.link("h", dev, "peer", `p${i}`);
    const mine = [...new Set(hops.map(besideHop))];
    if (mine.length) await lab.addr("h", dev, ...mine);
    const theirs = [...new Set(hops.map((h) => `${h}/${h.includes(":") ? 64 : 24}`))];
    if (theirs.length) await lab.addr("peer", `p${i}`, ...theirs);
  }
  return devs.map(([d]) => d);
}

/** Every sysctl symroute may touch in a host, as `key = value` lines (for before/after comparisons). */
export async function touchableSysctls(lab: Lab, host: string): Promise<string> {
  const r = await lab.exec(host, ["sysctl", "-a"], undefined, true);
  return r.stdout
    .split("\n")
    .filter((l) => /rp_filter|forwarding|proxy_arp|proxy_ndp|proxy_delay|ip_nonlocal_bind/.test(l))
    .sort()
    .join("\n");
}

/** `ip monitor` (links, addresses, routes, rules, netconf: not neighbours, whose states age by themselves) and `nft monitor` in a host, collecting whatever they print until stopped. */
export async function watchKernel(lab: Lab, host: string): Promise<() => Promise<string>> {
  const kids = [
    spawn("ip", ["-n", lab.ns(host), "monitor", "link", "address", "route", "rule", "netconf"], { stdio: ["ignore", "pipe", "ignore"] }),
    spawn("ip", ["netns", "exec", lab.ns(host), "nft", "monitor"], { stdio: ["ignore", "pipe", "ignore"] }),
  ];
  let seen = "";
  for (const k of kids) k.stdout!.on("data", (d: Buffer) => (seen += d.toString()));
  // give both a moment to subscribe before anything happens
  await new Promise((r) => setTimeout(r, 250));
  return async () => {
    await new Promise((r) => setTimeout(r, 150));
    await Promise.all(kids.map((k) => new Promise<void>((resolve) => {
      if (k.exitCode !== null) return resolve();
      k.once("exit", () => resolve());
      k.kill("SIGTERM");
    })));
    return seen;
  };
}

/** A changed variant of a config: a target, instance, service, uplink or IPv6 half fewer (the first that applies). */
export function variantOf(yamlText: string): { text: string; change: string } {
  const c = parse(yamlText) as Obj;
  const lbs = (c.loadBalancers as Obj[] | undefined) ?? [];
  const nets = (c.routedNetworks as Obj[] | undefined) ?? [];
  const services = (c.services as Obj[] | undefined) ?? [];
  const uplinks = (c.uplinks as Obj[] | undefined) ?? [];
  const outbound = (c.outbound as Obj[] | undefined) ?? [];
  let change = "";
  const targets = lbs[0]?.targets as Obj[] | undefined;
  const instances = nets[0]?.instances as Obj[] | undefined;
  if (targets && targets.length > 1) change = `target ${String(targets.pop()?.name)} fewer`;
  else if (instances && instances.length > 0) change = `instance ${String(instances.pop()?.address)} fewer`;
  else if (services.length > 0) change = `service ${String(services.pop()?.name)} fewer`;
  else if (outbound.length > 1) change = `outbound ${String(outbound.pop()?.name)} fewer`;
  else if (uplinks.length > 1) change = `uplink ${String(uplinks.pop()?.name)} fewer`;
  else if (nets[0] && nets[0].subnet6) {
    delete nets[0].subnet6;
    delete nets[0].gateway6;
    change = "the IPv6 half of the routed network fewer";
  } else throw new Error("no variant for this config");
  return { text: stringifyYaml(c), change };
}
