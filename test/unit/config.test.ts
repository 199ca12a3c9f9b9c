import { describe, expect, it } from "vitest";
import { mustFail, mustLoad, TWO_UPLINKS } from "../helpers/config.js";

describe("config errors", () => {
  it("names file, line, column and field of an unknown field", () => {
    const errs = mustFail(`version: 1\nuplinks:\n  - name: isp1\n    interface: eth1\n    gateway: 203.0.113.1\n    gatway6: 2001:db8::1\n`, "x.yaml");
    expect(errs).toEqual(["x.yaml:6:5: uplinks[0].gatway6: unknown field 'gatway6'"]);
  });

  it("reports every error at once, in file order", () => {
    const errs = mustFail(`version: 1
uplinks:
  - name: isp1
    interface: eth1
    gateway: 2001:db8::1
  - name: isp2
    interface: eth2
    gateway6: 192.0.2.1
    rpFilter: sometimes
`);
    expect(errs).toHaveLength(3);
    expect(errs[0]).toMatch(/^test\.yaml:5:14: uplinks\[0\]\.gateway: must be an IPv4 address/);
    expect(errs[1]).toMatch(/^test\.yaml:8:15: uplinks\[1\]\.gateway6: must be an IPv6 address/);
    expect(errs[2]).toMatch(/^test\.yaml:9:15: uplinks\[1\]\.rpFilter: must be one of "loose", "strict", "off", "keep"/);
  });

  it.each([
    ['eth1"; flush ruleset; "', "quote and semicolon"],
    ["eth1\nflush ruleset", "newline"],
    ["eth1 table 254", "space"],
    ["$(reboot)", "shell substitution"],
    ["averyveryverylongname0", "over 15 bytes"],
  ])("refuses an interface name that could inject (%s: %s)", (name) => {
    const errs = mustFail(`version: 1\nuplinks:\n  - name: isp1\n    interface: ${JSON.stringify(name)}\n    gateway: 203.0.113.1\n`);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/^test\.yaml:4:16: uplinks\[0\]\.interface: must be an interface name/);
  });

  it("refuses names with quotes in services", () => {
    const errs = mustFail(TWO_UPLINKS + `services:\n  - name: "svc'; drop"\n    addresses: [192.168.1.1]\n    uplink: isp1\n`);
    expect(errs[0]).toMatch(/:12:11: services\[0\].name: must be 1-63 letters/);
  });

  it("refuses overlapping tables, reserved tables and bad ranges", () => {
    const errs = mustFail(`version: 1
allocate:
  tables: 200-300
  priorities: 0-10
  markMask: 0x00f0f000
uplinks:
  - name: isp1
    interface: eth1
    gateway: 203.0.113.1
    table: 101
  - name: isp2
    interface: eth2
    gateway: 192.0.2.1
    table: 101
  - name: isp3
    interface: eth3
    gateway: 192.0.2.1
    table: 254
`);
    expect(errs.join("\n")).toContain("allocate.tables: range includes reserved table 253, 254, 255");
    expect(errs.join("\n")).toContain("allocate.priorities: range includes reserved priority 0");
    expect(errs.join("\n")).toContain("allocate.markMask: bits must be contiguous");
    expect(errs.join("\n")).toContain("test.yaml:14:12: uplinks[1].table: table 101 is already used by uplink isp1");
    expect(errs.join("\n")).toContain("test.yaml:18:12: uplinks[2].table: table 254 is reserved");
  });

  it("refuses one client network routed back by two uplinks (found by the kernel property test), allows it on one uplink", () => {
    const svc = (name: string, uplink: string) => `  - { name: ${name}, addresses: [198.51.100.${name === "a" ? 1 : 2}], uplink: ${uplink}, strategy: static, clients: [10.9.0.0/24] }\n`;
    const errs = mustFail(`${TWO_UPLINKS}services:\n${svc("a", "isp1")}${svc("b", "isp2")}`);
    expect(errs).toEqual([expect.stringMatching(/^test\.yaml:\d+:\d+: services\[1\]\.clients\[0\]: 10\.9\.0\.0\/24 is already routed back by service a through uplink isp1/)]);
    mustLoad(`${TWO_UPLINKS}services:\n${svc("a", "isp1")}${svc("b", "isp1")}`);
  });

  it("refuses service addresses of a family the uplink cannot carry", () => {
    const errs = mustFail(`version: 1
uplinks:
  - name: v4only
    interface: eth1
    gateway: 203.0.113.1
services:
  - name: svc
    addresses: [2001:db8::5]
    uplink: v4only
  - name: svc2
    addresses: [192.0.2.5]
    uplink: nope
`);
    expect(errs).toEqual([
      "test.yaml:8:17: services[0].addresses[0]: IPv6 address but uplink v4only has no gateway6",
      "test.yaml:12:13: services[1].uplink: no uplink named 'nope' (known: v4only)",
    ]);
  });

  it("needs clients for the static strategy and warns that they are ignored elsewhere", () => {
    const errs = mustFail(TWO_UPLINKS + `services:
  - name: a
    addresses: [192.168.1.1]
    uplink: isp1
    strategy: static
  - name: b
    addresses: [192.168.1.2]
    uplink: isp1
    clients: [10.0.0.0/8]
`);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/services\[0\]\.clients: the static strategy needs/);
    const ok = mustLoad(TWO_UPLINKS + `services:\n  - name: b\n    addresses: [192.168.1.2]\n    uplink: isp1\n    clients: [10.0.0.0/8]\n`);
    expect(ok.warnings.map((w) => `${w.line}:${w.col} ${w.message}`)).toEqual(["15:14 ignored: only the static strategy uses clients; strategy is 'source'"]);
  });

  it("reports YAML syntax errors with their place", () => {
    const errs = mustFail("version: 1\nuplinks: [\n");
    expect(errs[0]).toMatch(/^test\.yaml:\d+:\d+: \(top\): YAML: /);
  });

  it("fills in defaults", () => {
    const r = mustLoad(TWO_UPLINKS);
    expect(r.tables).toEqual({ first: 1000, last: 1999 });
    expect(r.priorities).toEqual({ first: 1000, last: 1999 });
    expect(r.markMask).toBe(0x00ff0000);
    expect(r.config.uplinks[0].returnTraffic).toBe("connmark");
    expect(r.config.uplinks[0].rpFilter).toBe("loose");
  });
});
