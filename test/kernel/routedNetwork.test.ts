/**
 * Seed 001 in real namespaces: two hosts with two instances each and a router
 * with NAT, IPv4 and IPv6: instance to instance on one host and across hosts,
 * instance to outside (masquerade seen in conntrack), outside to instance
 * (no NAT), the ARP source rewritten, an instance moved between hosts
 * reachable within a second, the host-router role, and destroy restoring
 * every sysctl.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { buildRoutedNetwork, hostConfig, plugInstance, ROUTED, type Instance } from "../../src/lab/routedNetwork.js";
import { tcpEcho, startEchoServer, waitListening } from "../../src/lab/traffic.js";
import { examplePath } from "../../src/lab/examples.js";
import { cli, configFile, isRoot, kernelSnapshot } from "../helpers/kernel.js";

const [vm1a, vm1b, vm2a, vm2b] = ROUTED.instances;
const SYSCTLS = ["net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding", "net/ipv4/conf/eth0.500/proxy_arp", "net/ipv6/conf/eth0.500/proxy_ndp", "net/ipv4/neigh/eth0.500/proxy_delay", "net/ipv4/conf/tap0/proxy_arp"];

describe.skipIf(!isRoot)("routed network in namespaces", () => {
  const lab = new Lab("tn");
  const pristine: Record<string, string> = {};
  const onHost = (host: string, list: readonly Instance[]) => list.filter((i) => i.host === host);
  const apply = (host: string, yaml: string) => cli(["apply", configFile(yaml), "--netns", lab.ns(host)]);

  beforeAll(async () => {
    await buildRoutedNetwork(lab);
    for (const h of ["h1", "h2", "r"]) pristine[h] = await kernelSnapshot(lab, h, h === "r" ? SYSCTLS.slice(0, 2) : SYSCTLS);
  });
  afterAll(async () => {
    for (const h of ["h1", "h2", "r"]) cli(["destroy", "--netns", lab.ns(h)]);
    await lab.teardown();
  });

  it("without symroute instances on different hosts cannot reach each other", async () => {
    expect((await tcpEcho(lab, vm1a.name, vm2a.v4, ROUTED.port, { timeoutSec: 1 })).ok).toBe(false);
  });

  it("host and router roles: instance to instance, to the outside (NAT), and from the outside, IPv4 and IPv6", async () => {
    for (const [h, yaml] of [["h1", hostConfig(onHost("h1", ROUTED.instances))], ["h2", hostConfig(onHost("h2", ROUTED.instances))]] as const) {
      const r = apply(h, yaml);
      expect(r.code, r.stderr).toBe(0);
    }
    const r = cli(["apply", examplePath("routed-network-router.yaml"), "--netns", lab.ns("r")]);
    expect(r.code, r.stderr).toBe(0);
    const cases: [string, string][] = [
      [vm1a.name, vm1b.v4], [vm1a.name, vm2a.v4], [vm2b.name, vm1b.v4], [vm1a.name, ROUTED.outside.v4], ["out", vm2b.v4],
      [vm1a.name, vm1b.v6], [vm1a.name, vm2a.v6], [vm2b.name, vm1b.v6], [vm1a.name, ROUTED.outside.v6], ["out", vm2b.v6],
    ];
    const results = await Promise.all(cases.map(([from, to]) => tcpEcho(lab, from, to, ROUTED.port)));
    expect(results.map((x, i) => `${cases[i].join(" -> ")}: ${x.ok}`)).toEqual(cases.map((c) => `${c.join(" -> ")}: true`));
    const ct = (await lab.exec("r", ["conntrack", "-L", "-p", "tcp", "--orig-src", vm1a.v4], undefined, true)).stdout;
    expect(ct).toMatch(new RegExp(`src=${ROUTED.outside.v4} dst=${ROUTED.routerOutside.v4.replace(/\./g, "\\.")} sport=${ROUTED.port}`));
    const inbound = (await lab.exec("r", ["conntrack", "-L", "-p", "tcp", "--orig-src", ROUTED.outside.v4], undefined, true)).stdout;
    expect(inbound).toMatch(new RegExp(`src=${vm2b.v4.replace(/\./g, "\\.")} dst=${ROUTED.outside.v4.replace(/\./g, "\\.")}`));
  });

  it("the hosts' ARP requests on the network carry arpSource", async () => {
    const neigh = (await lab.exec("r", ["ip", "-4", "neigh", "show", ROUTED.arpSource])).stdout;
    expect(neigh).toMatch(/lladdr [0-9a-f:]{17}/);
    const counted = (await lab.exec("h1", ["nft", "list", "table", "arp", "symroute"])).stdout;
    expect(counted).toMatch(/oifname "eth0\.500" arp operation request arp saddr ip set 192\.0\.2\.254 counter packets [1-9]/);
  });

  it("proxied ARP answers come at once (proxy_delay 0)", async () => {
    await lab.exec("r", ["ip", "neigh", "flush", "dev", "eth0.500"]);
    const start = Date.now();
    const r = await tcpEcho(lab, "out", vm2a.v4, ROUTED.port);
    expect(r.ok).toBe(true);
    expect(Date.now() - start).toBeLessThan(400);
  });

  it("an instance moved to the other host is reachable again within one second of the apply", async () => {
    const moved: Instance = { ...vm1a, host: "h2", tap: "tap2" };
    await lab.exec("h1", ["ip", "link", "del", vm1a.tap]);
    await plugInstance(lab, moved);
    expect(apply("h1", hostConfig([vm1b])).code).toBe(0);
    expect(apply("h2", hostConfig([vm2a, vm2b, moved])).code).toBe(0);
    const start = Date.now();
    let ok = false;
    while (!ok && Date.now() - start < 3000) ok = (await tcpEcho(lab, "out", vm1a.v4, ROUTED.port, { timeoutSec: 1 })).ok;
    const elapsed = Date.now() - start;
    expect(ok).toBe(true);
    expect(elapsed).toBeLessThan(1000);
    expect((await tcpEcho(lab, vm2a.name, moved.v6, ROUTED.port)).ok).toBe(true);
    expect((await tcpEcho(lab, vm1b.name, moved.v4, ROUTED.port)).ok).toBe(true);
  });

  it("host-router role: instances on the router itself, the router reaching them, NAT to the outside", async () => {
    expect(cli(["destroy", "--netns", lab.ns("r")]).code).toBe(0);
    const vmr: Instance = { name: "vmr", host: "r", tap: "tap0", v4: "192.0.2.30", v6: "2001:db8:500::30" };
    await lab.addHosts("vmr");
    await plugInstance(lab, vmr);
    startEchoServer(lab, "vmr", "0.0.0.0", ROUTED.port);
    await waitListening(lab, "vmr", ROUTED.port);
    const yaml = `version: 1
routedNetworks:
  - name: routed_net
    interface: eth0.500
    subnet: ${ROUTED.subnet}
    gateway: ${ROUTED.gateway}
    table: 500
    role: host-router
    masquerade: { interface: eth0 }
    instances:
      - { address: ${vmr.v4}, tap: tap0 }
`;
    const r = apply("r", yaml);
    expect(r.code, r.stderr).toBe(0);
    for (const [from, to] of [["vmr", vm1b.v4], [vm1b.name, vmr.v4], ["vmr", ROUTED.outside.v4], ["r", vm2a.v4], ["r", vmr.v4]] as const)
      expect((await tcpEcho(lab, from, to, ROUTED.port)).ok, `${from} -> ${to}`).toBe(true);
  });

  it("destroy puts every host back as it was, sysctls included", async () => {
    for (const h of ["h1", "h2", "r"]) expect(cli(["destroy", "--netns", lab.ns(h)]).code).toBe(0);
    const values = (snapshot: string) => snapshot.split("\n").filter((l) => l.startsWith("net/"));
    const rules = (snapshot: string) => snapshot.split("$ ip -4 route")[0];
    for (const h of ["h1", "h2", "r"]) {
      const keys = h === "r" ? SYSCTLS.slice(0, 2) : SYSCTLS.slice(0, 5);
      const now = await kernelSnapshot(lab, h, keys);
      // taps came and went with the instances; what symroute touched must be as before
      expect(values(now), h).toEqual(values(pristine[h]).filter((l) => keys.some((k) => l.startsWith(`${k}=`))));
      expect(rules(now), h).toBe(rules(pristine[h]));
      expect((await lab.exec(h, ["ip", "route", "show", "table", "500"])).stdout, h).toBe("");
      expect((await lab.exec(h, ["nft", "list", "tables"])).stdout, h).toBe("");
    }
    expect((await lab.exec("r", ["ip", "-4", "addr", "show", "dev", "eth0.500"])).stdout).not.toContain("192.0.2.1/");
  });
});
