/**
 * The messages users get for wrong values, word for word: what was expected,
 * what the file gave, and why an address cannot serve; and the limits that
 * keep a huge or hostile file from costing seconds or gigabytes.
 */
import { describe, expect, it } from "vitest";
import { loadConfigText } from "../../src/config/load.js";
import { formatIssue } from "../../src/config/errors.js";
import { mustFail, mustLoad, TWO_UPLINKS } from "../helpers/config.js";

const UPLINK = (extra: string) => `version: 1\nuplinks:\n  - name: isp1\n    interface: eth1\n${extra}`;

describe("wrong types say what was expected and what was given", () => {
  it.each([
    ['    gateway: 203.0.113.1\n    table: "100"\n', 'test.yaml:6:12: uplinks[0].table: expected an integer, got the string "100"'],
    ["    gateway: 203.0.113.1\n    table: 100.5\n", "test.yaml:6:12: uplinks[0].table: expected an integer, got the number 100.5"],
    ["    gateway: 203.0.113.1\n    table: !!binary aGVsbG8=\n", "test.yaml:6:12: uplinks[0].table: expected an integer, got binary data (!!binary)"],
    ["    gateway: 203.0.113.1\n    table:\n", "test.yaml:6:11: uplinks[0].table: expected an integer, got an empty value (null)"],
    ["    gateway: 203.0.113.1\n    addresses: {a: 10.0.0.0/8}\n", "test.yaml:6:16: uplinks[0].addresses: expected a list, got a map"],
    ["    gateway: 203.0.113.1\n    returnTraffic: 5\n", 'test.yaml:6:20: uplinks[0].returnTraffic: must be one of "connmark", "none", got the number 5'],
  ])("%j", (extra, message) => {
    expect(mustFail(UPLINK(extra))).toEqual([message]);
  });

  it("a list, the version and names", () => {
    expect(mustFail("version: 1\nuplinks: 5\n")).toEqual(["test.yaml:2:10: uplinks: expected a list, got the number 5"]);
    expect(mustFail('version: "1"\n')).toEqual(['test.yaml:1:10: version: must be 1, got the string "1"']);
    expect(mustFail("version: 1\nuplinks:\n  - name: 7\n    interface: eth1\n    gateway: 203.0.113.1\n")).toEqual([
      'test.yaml:3:11: uplinks[0].name: expected a string, got the number 7 (quote it: "7")',
    ]);
    expect(mustFail("uplinks: []\n")).toEqual(["test.yaml:1:1: version: required field is missing (expected 1)"]);
  });

  it("binary data where a map belongs is one error on that field, not its bytes as fields", () => {
    expect(mustFail(UPLINK("    gateway: 203.0.113.1\n") + "loadBalancers:\n  - name: lb\n    vips: [20.0.0.1]\n    flows: [{name: f, priority: 1, protocols: [tcp]}]\n    targets: []\n    egress: !!binary aGVsbG8=\n")).toEqual([
      "test.yaml:11:13: loadBalancers[0].egress: expected a map, got binary data (!!binary)",
    ]);
  });
});

describe("addresses", () => {
  it("refuses IPv4-mapped IPv6 anywhere, naming the plain IPv4 form", () => {
    expect(mustFail(UPLINK("    gateway: ::ffff:192.168.1.1\n"))).toEqual([
      "test.yaml:5:14: uplinks[0].gateway: ::ffff:192.168.1.1 is an IPv4-mapped IPv6 address; write the plain IPv4 form 192.168.1.1",
    ]);
    expect(mustFail(UPLINK("    gateway6: ::ffff:c0a8:101\n"))).toEqual([
      "test.yaml:5:15: uplinks[0].gateway6: ::ffff:c0a8:101 is an IPv4-mapped IPv6 address; write the plain IPv4 form 192.168.1.1 in gateway",
    ]);
    expect(mustFail(TWO_UPLINKS + "services:\n  - name: s\n    addresses: [::ffff:10.0.0.1]\n    uplink: isp1\n    strategy: static\n    clients: [::ffff:10.1.0.0/112]\n")).toEqual([
      "test.yaml:13:17: services[0].addresses[0]: ::ffff:10.0.0.1 is an IPv4-mapped IPv6 address; write the plain IPv4 form 10.0.0.1",
      "test.yaml:16:15: services[0].clients[0]: ::ffff:10.1.0.0/112 is an IPv4-mapped IPv6 prefix; write the plain IPv4 form 10.1.0.0/16",
    ]);
  });

  it.each([
    ["gateway", "0.0.0.0", "the unspecified address cannot be a gateway"],
    ["gateway", "127.0.0.1", "a loopback address cannot be a gateway"],
    ["gateway", "127.5.5.5", "a loopback address cannot be a gateway"],
    ["gateway", "224.0.0.1", "a multicast address cannot be a gateway"],
    ["gateway", "239.255.255.250", "a multicast address cannot be a gateway"],
    ["gateway", "255.255.255.255", "the broadcast address cannot be a gateway"],
    ["gateway6", '"::"', "the unspecified address cannot be a gateway"],
    ["gateway6", "::1", "the loopback address cannot be a gateway"],
    ["gateway6", "ff02::1", "a multicast address cannot be a gateway"],
  ])("refuses %s %s: %s", (field, value, reason) => {
    const errs = mustFail(UPLINK(`    ${field}: ${value}\n`));
    expect(errs).toEqual([`test.yaml:5:${field.length + 7}: uplinks[0].${field}: ${value.replace(/"/g, "")}: ${reason}`]);
  });

  it("refuses unusable next hops of targets and the wrong family, naming the other field", () => {
    const lb = (target: string) =>
      `version: 1\nloadBalancers:\n  - name: lb\n    vips: [20.0.0.1]\n    flows: [{name: f, priority: 1, protocols: [tcp]}]\n    targets:\n      - {name: t, interface: c0, ${target}}\n`;
    expect(mustFail(lb("via: 127.0.0.2"))).toEqual(["test.yaml:7:39: loadBalancers[0].targets[0].via: 127.0.0.2: a loopback address cannot be a next hop"]);
    expect(mustFail(lb("via: 2001:db8::6"))).toEqual([
      "test.yaml:7:39: loadBalancers[0].targets[0].via: must be an IPv4 address such as 192.0.2.1, got the IPv6 address 2001:db8::6 (IPv6 goes in via6)",
    ]);
    expect(mustFail(lb("via6: 172.16.0.6"))).toEqual([
      "test.yaml:7:40: loadBalancers[0].targets[0].via6: must be an IPv6 address such as 2001:db8::1, got the IPv4 address 172.16.0.6 (IPv4 goes in via)",
    ]);
  });

  it("keeps link-local next hops, which are ordinary for IPv6", () => {
    mustLoad(UPLINK("    gateway6: fe80::1\n"));
  });
});

describe("numbers in range, never truncated", () => {
  it("refuses a mark mask beyond 32 bits, written in hex or decimal", () => {
    for (const mask of ["0x1ffffffff", "8589934591", '"0x1ffffffff"'])
      expect(mustFail(`version: 1\nallocate:\n  markMask: ${mask}\n`)).toEqual([
        "test.yaml:3:13: allocate.markMask: 0x1ffffffff is beyond 32 bits: a mark mask is at most 0xffffffff",
      ]);
    expect(mustLoad("version: 1\nallocate:\n  markMask: 0xffff0000\n").markMask).toBe(0xffff0000);
  });

  it("refuses tables, priorities and Maglev sizes out of range", () => {
    expect(mustFail(UPLINK("    gateway: 203.0.113.1\n    table: 0\n"))).toEqual(["test.yaml:6:12: uplinks[0].table: must be at least 1, got 0"]);
    expect(mustFail(UPLINK("    gateway: 203.0.113.1\n    table: 4294967295\n"))).toEqual(["test.yaml:6:12: uplinks[0].table: must be at most 4294967294, got 4294967295"]);
    const lb = (extra: string) => `version: 1\nloadBalancers:\n  - name: lb\n    vips: [20.0.0.1]\n    targets: []\n${extra}`;
    expect(mustFail(lb("    flows: [{name: f, priority: 65536, protocols: [tcp]}]\n"))).toEqual(["test.yaml:6:33: loadBalancers[0].flows[0].priority: must be at most 65535, got 65536"]);
    expect(mustFail(lb("    flows: [{name: f, priority: 1, protocols: [tcp]}]\n    maglev: {size: 1000003}\n"))).toEqual([
      "test.yaml:7:20: loadBalancers[0].maglev.size: must be at most 655373 (the Maglev paper's large table), got 1000003",
    ]);
  });
});

describe("limits on hostile and huge files", () => {
  it("reports the first 100 errors in file order and counts the rest", () => {
    const items = Array.from({ length: 250 }, (_, i) => `  - {name: u${i}, interface: e${i}, gateway: nope${i}}\n`).join("");
    const r = loadConfigText(`version: 1\nuplinks:\n${items}`, "big.yaml");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues).toHaveLength(100);
    expect(r.omitted).toBe(150);
    expect(r.stopped).toBe(false);
    expect(formatIssue(r.issues[0])).toBe('big.yaml:3:40: uplinks[0].gateway: must be an IPv4 address such as 192.0.2.1, got "nope0"');
    expect(r.issues.map((i) => i.line)).toEqual(Array.from({ length: 100 }, (_, i) => i + 3));
  });

  it("stops checking a file with thousands of broken items, keeping the first", () => {
    const items = Array.from({ length: 5000 }, (_, i) => `  - {name: u${i}, interface: e${i}, gateway: 127.0.0.${i % 250}}\n`).join("");
    const r = loadConfigText(`version: 1\nuplinks:\n${items}`, "big.yaml");
    expect(r.ok || { stopped: r.stopped, first: r.issues[0].line, shown: r.issues.length }).toEqual({ stopped: true, first: 3, shown: 100 });
    // checked in chunks of items: a little over the budget of 1000, far under the 5000 in the file
    expect(r.ok || r.omitted).toBeGreaterThanOrEqual(900);
    expect(r.ok || r.omitted).toBeLessThan(1500);
  });

  it("refuses aliases that expand to billions of nodes, and nesting deeper than a config needs", () => {
    const bomb = ["version: 1", "a0: &a0 [10.0.0.0/8, 10.0.0.0/8, 10.0.0.0/8, 10.0.0.0/8, 10.0.0.0/8, 10.0.0.0/8, 10.0.0.0/8, 10.0.0.0/8, 10.0.0.0/8, 10.0.0.0/8]"];
    for (let i = 1; i < 9; i++) bomb.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(", ")}]`);
    bomb.push("uplinks:", ...Array.from({ length: 10 }, (_, i) => `  - {name: u${i}, interface: e${i}, gateway: 10.0.0.1, addresses: *a8}`));
    const started = Date.now();
    expect(mustFail(bomb.join("\n") + "\n")[0]).toMatch(/^test\.yaml:1:1: \(top\): YAML: aliases expand the document beyond \d+ nodes$/);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(mustFail(`version: 1\nuplinks: ${"[".repeat(10000)}${"]".repeat(10000)}\n`)[0]).toMatch(/^test\.yaml:2:\d+: \(top\): YAML: nesting exceeded maxDepth/);
  });

  it("keeps aliases that a config may use", () => {
    const r = mustLoad(`version: 1\nuplinks:\n  - {name: isp1, interface: eth1, gateway: 203.0.113.1, addresses: &a [203.0.113.8/24]}\n  - {name: isp2, interface: eth2, gateway: 203.0.113.1, addresses: *a}\n`);
    expect(r.config.uplinks[1].addresses).toEqual(["203.0.113.8/24"]);
  });

  it("locates errors in a map of 100000 unknown fields without scanning it for each", () => {
    const text = "version: 1\n" + Array.from({ length: 100_000 }, (_, i) => `unknown${i}: ${i}\n`).join("");
    const started = Date.now();
    const r = loadConfigText(text, "big.yaml");
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r.ok || [formatIssue(r.issues[99]), r.omitted]).toEqual(["big.yaml:101:1: unknown99: unknown field 'unknown99'", 99_900]);
  });

  it("quotes at most 60 characters of a value back", () => {
    const errs = mustFail(UPLINK(`    gateway: 203.0.113.1\n    rpFilter: ${"x".repeat(100_000)}\n`));
    expect(errs[0].length).toBeLessThan(200);
  });
});
