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
