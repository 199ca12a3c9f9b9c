import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfigText } from "../../src/config/load.js";
import { mustFail, mustLoad } from "../helpers/config.js";
import { compile } from "../../src/compile/index.js";

const LB = (body: string) => `version: 1
loadBalancers:
  - name: lb
    vips: [20.0.0.1]
${body}`;
const TARGETS = `    targets:
      - { name: a, via: 172.16.0.6, interface: conduit-a }
      - { name: b, via: 172.16.0.8, interface: conduit-a }
`;
const FLOW = `    flows:
      - { name: f, priority: 1, protocols: [tcp], destinationPorts: ["4000"] }
`;

describe("load balancer config errors", () => {
  it("a VIP that is not a host address", () => {
    const errs = mustFail(LB(FLOW + TARGETS).replace("[20.0.0.1]", "[20.0.0.0/24]"));
    expect(errs).toEqual(["test.yaml:4:12: loadBalancers[0].vips[0]: must be one IPv4 or IPv6 address (a VIP is a host address, not a prefix)"]);
  });

  it("a size that is not prime or smaller than the target count", () => {
    expect(mustFail(LB("    maglev: { size: 1000 }\n" + FLOW + TARGETS))[0]).toMatch(/:5:21: loadBalancers\[0\]\.maglev\.size: 1000 is not a prime/);
    expect(mustFail(LB("    maglev: { size: 1 }\n" + FLOW + TARGETS)).join("\n")).toMatch(/loadBalancers\[0\]\.maglev\.size: 1 is not a prime/);
    expect(mustFail(LB("    maglev: { size: 1 }\n" + FLOW + TARGETS)).join("\n")).toMatch(/1 is smaller than the number of targets \(2\)/);
  });

  it("duplicate target names", () => {
    const errs = mustFail(LB(FLOW + TARGETS.replace("name: b", "name: a")));
    expect(errs[0]).toMatch(/:9:17: loadBalancers\[0\]\.targets\[1\]\.name: duplicate target name 'a'/);
  });

  it("flows that can never match", () => {
    const errs = mustFail(
      LB(`    flows:
      - { name: p, priority: 1, protocols: [icmp], destinationPorts: ["80"] }
      - { name: q, priority: 2, protocols: [tcp], sources: ["2001:db8::/32"] }
      - { name: r, priority: 2, protocols: [udp], destinationPorts: ["90-80", "70000"] }
` + TARGETS),
    );
    expect(errs.join("\n")).toContain("loadBalancers[0].flows[0].destinationPorts: can never match: icmp has no ports");
    expect(errs.join("\n")).toContain("loadBalancers[0].flows[1].sources: can never match: no VIP of the sources' address family");
    expect(errs.join("\n")).toContain("loadBalancers[0].flows[2].priority: flow q has the same priority");
    expect(errs.join("\n")).toContain("loadBalancers[0].flows[2].destinationPorts[0]: range 90-80 starts after it ends");
    expect(errs.join("\n")).toContain("loadBalancers[0].flows[2].destinationPorts[1]: port 70000 is beyond 65535");
  });

  it("overlapping tables between an egress and an uplink", () => {
    const errs = mustFail(`version: 1
uplinks:
  - { name: u, interface: eth1, gateway: 192.0.2.1, table: 4096 }
loadBalancers:
  - name: lb
    vips: [20.0.0.1]
${FLOW}${TARGETS}    egress: { gateway: 169.254.100.150, interface: ext0, table: 4096 }
`);
    expect(errs.join("\n")).toMatch(/loadBalancers\[0\]\.egress\.table: table 4096 is already used by uplink u/);
  });

  it("an IPv6 VIP with targets that have no via6: a warning, and IPv6 hashes over the targets that can take it", () => {
    const text = LB(FLOW + `    targets:\n      - { name: a, via: 172.16.0.6, interface: conduit-a }\n      - { name: b, via6: "fd00::8", interface: conduit-a }\n`).replace("[20.0.0.1]", "[20.0.0.1, 2000::1]");
    const r = mustLoad(text);
    expect(r.warnings.map((w) => w.message)).toEqual(["target a has no via6: it serves only the IPv4 VIPs", "target b has no via: it serves only the IPv6 VIPs"]);
    const info = compile(r, { links: {}, rpFilter: {} }).desired.balancers![0];
    expect(new Set(info.table)).toEqual(new Set(["a"]));
    expect(new Set(info.table6)).toEqual(new Set(["b"]));
  });

  it("compiles: one mark and table per target, the same numbers every time", () => {
    const r = mustLoad(LB(FLOW + TARGETS));
    const a = compile(r, { links: {}, rpFilter: {} });
    const b = compile(r, { links: {}, rpFilter: {} });
    expect(JSON.stringify(a.desired)).toBe(JSON.stringify(b.desired));
    const info = a.desired.balancers![0];
    expect(info.size).toBe(257);
    expect(info.targets.map((t) => [t.name, t.mark, t.table])).toEqual([["a", 0x10000, 1000], ["b", 0x20000, 1001]]);
    expect(info.table).toHaveLength(257);
  });
});

describe("target checks", () => {
  const base = readFileSync(join(import.meta.dirname, "..", "..", "examples", "load-balancer-dynamic.yaml"), "utf8");
  it("take exactly one of tcp, http and command, located at the check", () => {
    const both = loadConfigText(base.replace("check: { tcp: 4000, interval: 250ms, down: 3, up: 2 }", "check: { tcp: 4000, command: [/bin/true] }"), "x.yaml");
    expect(both.ok).toBe(false);
    if (!both.ok) expect(both.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n")).toContain("loadBalancers.0.targets.0.check: has tcp and command: give exactly one of tcp, http or command");
    const none = loadConfigText(base.replace("check: { tcp: 4000, interval: 250ms, down: 3, up: 2 }", "check: { interval: 250ms }"), "x.yaml");
    expect(none.ok).toBe(false);
    const badPath = loadConfigText(base.replace("path: /healthz", 'path: "no slash"'), "x.yaml");
    expect(badPath.ok).toBe(false);
    if (!badPath.ok) expect(badPath.issues[0].path.join(".")).toBe("loadBalancers.0.targets.1.check.http.path");
  });
  it("flowMemory and registration take bounded values", () => {
    const r = loadConfigText(base.replace("flowMemory: { timeout: 120s, size: 65536 }", "flowMemory: { timeout: 100ms, size: 10 }"), "x.yaml");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map((i) => i.path.join(".")).sort()).toEqual(["loadBalancers.0.flowMemory.size", "loadBalancers.0.flowMemory.timeout"]);
  });
});

describe("fast path config", () => {
  const FAST = (ingress: string) => `    fastPath: { ingress: ${ingress} }\n`;
  it("is off by default, and compiles a netdev table only when asked", () => {
    expect(compile(mustLoad(LB(FLOW + TARGETS)), { links: {}, rpFilter: {} }).desired.nftNetdev).toBeUndefined();
    const on = compile(mustLoad(LB(FAST("[eth1, eth2]") + FLOW + TARGETS)), { links: {}, rpFilter: {} }).desired;
    expect(on.nftNetdev!.family).toBe("netdev");
    expect(on.nftNetdev!.chains.filter((c) => c.hook === "ingress").map((c) => c.dev)).toEqual(["eth1", "eth2"]);
    expect(on.balancers![0].fastPath?.ingress).toEqual(["eth1", "eth2"]);
  });
  it("names a bad, repeated or conduit interface", () => {
    expect(mustFail(LB(FAST("[]") + FLOW + TARGETS)).join("\n")).toMatch(/loadBalancers\[0\]\.fastPath\.ingress: /);
    expect(mustFail(LB(FAST('["bad name"]') + FLOW + TARGETS)).join("\n")).toMatch(/loadBalancers\[0\]\.fastPath\.ingress\[0\]: must be an interface name/);
    expect(mustFail(LB(FAST("[eth1, eth1]") + FLOW + TARGETS))).toEqual([expect.stringMatching(/:5:\d+: loadBalancers\[0\]\.fastPath\.ingress\[1\]: interface eth1 is listed twice/)]);
    expect(mustFail(LB(FAST("[conduit-a]") + FLOW + TARGETS)).join("\n")).toMatch(/fastPath\.ingress\[0\]: interface conduit-a is a target's conduit/);
  });
  it("refuses, at compile against the host's facts, a conduit narrower than an ingress interface and an ingress interface that is missing", () => {
    const facts = { links: { eth1: { addresses: [], mtu: 9000 }, "conduit-a": { addresses: [], mtu: 1500 } }, rpFilter: {} };
    const refusals = compile(mustLoad(LB(FAST("[eth1, eth9]") + FLOW + TARGETS)), facts).refusals!;
    expect(refusals.map((r) => [r.path.join("."), r.message.split(":")[0]])).toEqual([
      ["loadBalancers.0.fastPath.ingress.0", "MTU 9000 of eth1 is larger than MTU 1500 of conduit conduit-a (target a)"],
      ["loadBalancers.0.fastPath.ingress.1", "interface eth9 does not exist on this host"],
    ]);
    expect(compile(mustLoad(LB(FAST("[eth1]") + FLOW + TARGETS)), { ...facts, links: { ...facts.links, eth1: { addresses: [], mtu: 1500 } } }).refusals).toBeUndefined();
  });
});

describe("the fast-path example", () => {
  it("is the load-balancer example with flow memory and a fast path on ext-vlan0", () => {
    const root = join(import.meta.dirname, "..", "..", "examples");
    const strip = (t: string) => t.replace(/^#.*\n/gm, "");
    const fast = strip(readFileSync(join(root, "load-balancer-fastpath.yaml"), "utf8"));
    const base = strip(readFileSync(join(root, "load-balancer.yaml"), "utf8"));
    expect(fast).toBe(base.replace("    flows:", "    flowMemory: { timeout: 120s }\n    fastPath: { ingress: [ext-vlan0] }\n    flows:"));
    const desired = compile(mustLoad(fast), { links: {}, rpFilter: {} }).desired;
    expect(desired.nftNetdev?.chains[0]).toMatchObject({ hook: "ingress", dev: "ext-vlan0" });
  });
});
