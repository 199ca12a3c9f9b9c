/**
 * Every field of the schema, judged: a value of the wrong type, of the wrong
 * address family, out of range or unusable (a loopback gateway, IPv4-mapped
 * IPv6) put into an otherwise valid config gives a located error on exactly
 * that field, at exactly the value's place (checked against the `yaml`
 * package's own positions), with a message that says what was wrong, and
 * never an exception.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { CORE_SCHEMA, dump, type Type } from "js-yaml";
import * as jsyaml from "js-yaml";
import { isMap, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import { loadConfigText } from "../../src/config/load.js";
import { formatPath, type FieldPath } from "../../src/config/errors.js";
import { MAGLEV_MAX_SIZE } from "../../src/config/schema.js";
import { INTERFACE_NAME, OBJECT_NAME } from "../../src/config/names.js";

/** A config with every field of the schema present, and valid. */
const BASE = {
  version: 1,
  allocate: { tables: "1000-1999", priorities: "1000-1999", markMask: "0x00ff0000" },
  uplinks: [
    { name: "isp1", interface: "eth1", gateway: "203.0.113.1", gateway6: "2001:db8:1::1", addresses: ["203.0.113.8/24", "2001:db8:1::8/64"], table: 101, returnTraffic: "connmark", rpFilter: "loose" },
  ],
  services: [
    { name: "svc1", addresses: ["192.168.1.1"], uplink: "isp1", strategy: "static", clients: ["10.111.223.0/24"] },
    { name: "svc2", addresses: ["192.168.2.1"], uplink: "isp1", strategy: "vrf", table: 1500 },
  ],
  loadBalancers: [
    {
      name: "stream-a",
      vips: ["20.0.0.1", "2000::1"],
      maglev: { size: 9973 },
      assignment: "maglev",
      flows: [{ name: "tcp-4000", priority: 1, protocols: ["tcp"], destinationPorts: ["4000"], sources: ["0.0.0.0/0"], sourcePorts: ["1024-65535"] }],
      targets: [{ name: "target-a", via: "172.16.0.6", via6: "fd00:16::6", interface: "conduit-a" }],
      egress: { gateway: "169.254.100.150", gateway6: "fe80::1", interface: "ext-vlan0", table: 4096 },
    },
  ],
  routedNetworks: [
    {
      name: "routed_net",
      interface: "eth0.500",
      subnet: "192.0.2.0/24",
      subnet6: "2001:db8:500::/64",
      gateway: "192.0.2.1",
      gateway6: "2001:db8:500::1",
      table: 500,
      role: "host",
      arpSource: "192.0.2.254",
      instances: [{ address: "192.0.2.10", address6: "2001:db8:500::10", tap: "tap0" }],
    },
    { name: "routed_r", interface: "eth0.600", subnet: "198.51.100.0/24", gateway: "198.51.100.1", role: "router", masquerade: { interface: "eth0" } },
  ],
};

type Kind =
  | { t: "literal" }
  | { t: "map" }
  | { t: "list" }
  | { t: "name" }
  | { t: "iface" }
  | { t: "enum"; values: string[] }
  | { t: "int"; min: number; max: number }
  | { t: "range" }
  | { t: "mask" }
  | { t: "port" }
  | { t: "address"; family?: 4 | 6; nextHop?: boolean }
  | { t: "prefix"; family?: 4 | 6 };

const gw4: Kind = { t: "address", family: 4, nextHop: true };
const gw6: Kind = { t: "address", family: 6, nextHop: true };
const table: Kind = { t: "int", min: 1, max: 0xfffffffe };

/** What each field takes, by path with list indexes written `*`. */
const FIELDS: Record<string, Kind> = {
  version: { t: "literal" },
  allocate: { t: "map" },
  "allocate.tables": { t: "range" },
  "allocate.priorities": { t: "range" },
  "allocate.markMask": { t: "mask" },
  uplinks: { t: "list" },
  "uplinks.*": { t: "map" },
  "uplinks.*.name": { t: "name" },
  "uplinks.*.interface": { t: "iface" },
  "uplinks.*.gateway": gw4,
  "uplinks.*.gateway6": gw6,
  "uplinks.*.addresses": { t: "list" },
  "uplinks.*.addresses.*": { t: "prefix" },
  "uplinks.*.table": table,
  "uplinks.*.returnTraffic": { t: "enum", values: ["connmark", "none"] },
  "uplinks.*.rpFilter": { t: "enum", values: ["loose", "strict", "off", "keep"] },
  services: { t: "list" },
  "services.*": { t: "map" },
  "services.*.name": { t: "name" },
  "services.*.addresses": { t: "list" },
  "services.*.addresses.*": { t: "address" },
  "services.*.uplink": { t: "name" },
  "services.*.strategy": { t: "enum", values: ["source", "mark", "static", "vrf"] },
  "services.*.clients": { t: "list" },
  "services.*.clients.*": { t: "prefix" },
  "services.*.table": table,
  loadBalancers: { t: "list" },
  "loadBalancers.*": { t: "map" },
  "loadBalancers.*.name": { t: "name" },
  "loadBalancers.*.vips": { t: "list" },
  "loadBalancers.*.vips.*": { t: "address" },
  "loadBalancers.*.maglev": { t: "map" },
  "loadBalancers.*.maglev.size": { t: "int", min: 1, max: MAGLEV_MAX_SIZE },
  "loadBalancers.*.assignment": { t: "enum", values: ["maglev", "stable"] },
  "loadBalancers.*.flows": { t: "list" },
  "loadBalancers.*.flows.*": { t: "map" },
  "loadBalancers.*.flows.*.name": { t: "name" },
  "loadBalancers.*.flows.*.priority": { t: "int", min: 0, max: 65535 },
  "loadBalancers.*.flows.*.protocols": { t: "list" },
  "loadBalancers.*.flows.*.protocols.*": { t: "enum", values: ["tcp", "udp", "sctp", "icmp"] },
  "loadBalancers.*.flows.*.destinationPorts": { t: "list" },
  "loadBalancers.*.flows.*.destinationPorts.*": { t: "port" },
  "loadBalancers.*.flows.*.sources": { t: "list" },
  "loadBalancers.*.flows.*.sources.*": { t: "prefix" },
  "loadBalancers.*.flows.*.sourcePorts": { t: "list" },
  "loadBalancers.*.flows.*.sourcePorts.*": { t: "port" },
  "loadBalancers.*.targets": { t: "list" },
  "loadBalancers.*.targets.*": { t: "map" },
  "loadBalancers.*.targets.*.name": { t: "name" },
  "loadBalancers.*.targets.*.via": gw4,
  "loadBalancers.*.targets.*.via6": gw6,
  "loadBalancers.*.targets.*.interface": { t: "iface" },
  "loadBalancers.*.egress": { t: "map" },
  "loadBalancers.*.egress.gateway": gw4,
  "loadBalancers.*.egress.gateway6": gw6,
  "loadBalancers.*.egress.interface": { t: "iface" },
  "loadBalancers.*.egress.table": table,
  routedNetworks: { t: "list" },
  "routedNetworks.*": { t: "map" },
  "routedNetworks.*.name": { t: "name" },
  "routedNetworks.*.interface": { t: "iface" },
  "routedNetworks.*.subnet": { t: "prefix", family: 4 },
  "routedNetworks.*.subnet6": { t: "prefix", family: 6 },
  "routedNetworks.*.gateway": gw4,
  "routedNetworks.*.gateway6": gw6,
  "routedNetworks.*.table": table,
  "routedNetworks.*.role": { t: "enum", values: ["host", "router", "host-router"] },
  "routedNetworks.*.arpSource": { t: "address", family: 4 },
  "routedNetworks.*.masquerade": { t: "map" },
  "routedNetworks.*.masquerade.interface": { t: "iface" },
  "routedNetworks.*.instances": { t: "list" },
  "routedNetworks.*.instances.*": { t: "map" },
  "routedNetworks.*.instances.*.address": { t: "address", family: 4 },
  "routedNetworks.*.instances.*.address6": { t: "address", family: 6 },
  "routedNetworks.*.instances.*.tap": { t: "iface" },
};

/** Every path in the base config, containers included. */
function pathsOf(value: unknown, path: FieldPath = []): FieldPath[] {
  const out: FieldPath[] = path.length ? [path] : [];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...path, i])));
  else if (value !== null && typeof value === "object") for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...path, k]));
  return out;
}
const pattern = (path: FieldPath) => path.map((p) => (typeof p === "number" ? "*" : p)).join(".");
const PATHS = pathsOf(BASE);

function withValue(path: FieldPath, value: unknown): unknown {
  const copy = structuredClone(BASE) as unknown as Record<string | number, unknown>;
  let node: Record<string | number, unknown> = copy;
  for (const part of path.slice(0, -1)) node = node[part] as Record<string | number, unknown>;
  node[path[path.length - 1]] = value;
  return copy;
}

// js-yaml writes the file with the types the loader reads back (`!!binary` included)
const jsyamlTypes = (jsyaml as unknown as { types: Record<string, Type> }).types;
const WRITE_SCHEMA = CORE_SCHEMA.extend({ explicit: [jsyamlTypes.binary] });

const binary = fc.uint8Array({ minLength: 1, maxLength: 8 });
const aMap = fc.dictionary(fc.constantFrom("a", "b", "x1"), fc.integer(), { minKeys: 1, maxKeys: 2 });
const aList = fc.array(fc.integer(), { minLength: 1, maxLength: 2 });
const notString = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), aList, aMap, binary);
const notNumber = fc.oneof(fc.string(), fc.boolean(), fc.constant(null), aList, aMap, binary);
const nonInteger = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d));
const mapped = fc.ipV4().map((a) => `::ffff:${a}`);
const unusable4 = fc.oneof(fc.constantFrom("0.0.0.0", "255.255.255.255"), fc.ipV4().map((a) => `127.${a.split(".").slice(1).join(".")}`), fc.integer({ min: 224, max: 239 }).map((n) => `${n}.0.0.1`));
const unusable6 = fc.oneof(fc.constantFrom("::", "::1", "ff02::1", "ff05::1:3"), fc.ipV6().map((a) => `ff0e:${a.split(":").slice(1).join(":") || "1"}`.replace(/:::/, "::")));
const neverName = (re: RegExp) => fc.oneof(fc.string(), fc.constantFrom("-x", "a b", 'a"b', "x".repeat(70), "")).filter((s) => !re.test(s));

/** Bad values for a field: wrong type, wrong family, out of range, unusable. */
function bad(kind: Kind): fc.Arbitrary<unknown> {
  switch (kind.t) {
    case "literal":
      return fc.oneof(fc.constantFrom("1", 2, 0, 1.5), notNumber);
    case "map":
      return fc.oneof(fc.integer(), fc.string(), aList, fc.boolean(), binary);
    case "list":
      return fc.oneof(fc.integer(), fc.string(), aMap, fc.boolean(), fc.constant(null), binary);
    case "name":
      return fc.oneof(notString, neverName(OBJECT_NAME));
    case "iface":
      return fc.oneof(notString, neverName(INTERFACE_NAME));
    case "enum":
      return fc.oneof(notString, fc.string().filter((s) => !kind.values.includes(s)));
    case "int":
      return fc.oneof(notNumber, nonInteger, fc.integer({ min: -1e6, max: kind.min - 1 }), fc.integer({ min: kind.max + 1, max: kind.max + 1e6 }), fc.constant(2 ** 40));
    case "range":
      return fc.oneof(fc.boolean(), fc.constant(null), aList, aMap, binary, nonInteger, fc.integer({ max: -1 }), fc.string().filter((s) => !/^[0-9]+-[0-9]+$/.test(s)), fc.constantFrom("5-1", "1000-99999999999"));
    case "mask":
      return fc.oneof(fc.boolean(), fc.constant(null), aList, aMap, binary, nonInteger, fc.integer({ min: -1e6, max: 0 }), fc.integer({ min: 2 ** 32, max: 2 ** 40 }), fc.constantFrom("0x1ffffffff", "0xff00ff", "ff00", "0x"));
    case "port":
      return fc.oneof(fc.boolean(), fc.constant(null), aList, aMap, binary, fc.integer({ min: 65536, max: 1e7 }), fc.integer({ min: -1e6, max: -1 }), fc.constantFrom("70000", "80-70", "x", "1-2-3", ""));
    case "address": {
      const family = kind.family === 4 ? fc.ipV6() : kind.family === 6 ? fc.ipV4() : fc.constant("10.0.0.0/24");
      const unusable = kind.family === 4 ? unusable4 : kind.family === 6 ? unusable6 : fc.oneof(unusable4, unusable6);
      return fc.oneof(notString, family, mapped, fc.constantFrom("1.2.3", "gateway", "10.0.0.256", ""), kind.nextHop || kind.family === undefined ? unusable : mapped);
    }
    case "prefix": {
      const family = kind.family === 4 ? fc.ipV6().map((a) => `${a}/64`) : kind.family === 6 ? fc.ipV4().map((a) => `${a}/24`) : mapped.map((a) => `${a}/120`);
      return fc.oneof(notString, family, mapped, fc.constantFrom("10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "x/8"));
    }
  }
}

/** The edge of each kind, tried on every field of that kind (the random values above may miss an edge). */
function edges(kind: Kind): unknown[] {
  const types = [null, true, [1], { a: 1 }, new Uint8Array([1])];
  switch (kind.t) {
    case "literal":
      return ["1", 2, ...types];
    case "map":
      return [5, "x", [1], true, new Uint8Array([1])];
    case "list":
      return [5, "x", { a: 1 }, null, new Uint8Array([1])];
    case "name":
    case "iface":
      return [5, "", "a b", "x".repeat(64), ...types];
    case "enum":
      return [5, "nope", kind.values[0].toUpperCase(), ...types];
    case "int":
      return ["100", 1.5, kind.min - 1, kind.max + 1, 2 ** 53, ...types];
    case "range":
      return ["5-1", "a-b", -1, 1.5, 2 ** 33, ...types];
    case "mask":
      return [0, 2 ** 32, 2 ** 33 - 1, "0x1ffffffff", "0x0", "0xf0f0", 1.5, ...types];
    case "port":
      return [65536, -1, "65536", "2-1", "1-2-3", ...types];
    case "address":
      return [
        5,
        "::ffff:192.168.1.1",
        "::ffff:c0a8:101",
        ...(kind.family === 4 ? ["2001:db8::1"] : kind.family === 6 ? ["192.0.2.1"] : []),
        ...(kind.nextHop || kind.family === undefined ? (kind.family === 6 ? ["::", "::1", "ff02::2"] : ["0.0.0.0", "127.0.0.1", "224.0.0.5", "255.255.255.255"]) : []),
        "10.0.0.0/24",
        ...types,
      ];
    case "prefix":
      return [5, "::ffff:10.0.0.0/104", kind.family === 6 ? "192.0.2.0/24" : "2001:db8::/64", "10.0.0.0/33", "2001:db8::/129", ...types].filter((v) => !(kind.family === undefined && v === "2001:db8::/64"));
  }
}

/** Where the `yaml` package says the value at `path` starts, and its line starts: an oracle independent of the loader. */
function expectedOffset(text: string, path: FieldPath): { offset: number; lines: LineCounter } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false });
  let node: unknown = doc.contents;
  for (const part of path) {
    if (isMap(node)) node = node.items.find((p) => (p.key as { value?: unknown }).value === part)?.value;
    else if (isSeq(node)) node = node.items[part as number];
  }
  return { offset: (node as Node).range![0], lines };
}

describe("every field judged", () => {
  it("the table of fields covers the schema's every field in the base config, and the base is valid", () => {
    expect(new Set(PATHS.map(pattern))).toEqual(new Set(Object.keys(FIELDS)));
    const r = loadConfigText(dump(BASE), "base.yaml");
    expect(r.ok ? [] : r.issues).toEqual([]);
  });

  it("the edges of every field (wrong type, family, range, unusable address) are located errors on that field", () => {
    let tried = 0;
    for (const path of PATHS)
      for (const value of edges(FIELDS[pattern(path)])) {
        judged({ path, value });
        tried++;
      }
    expect(tried).toBeGreaterThan(500);
  });

  it("random wrong values anywhere are located errors on that field, never an exception", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PATHS).chain((path) => bad(FIELDS[pattern(path)]).map((value) => ({ path, value }))),
        judged,
      ),
      { numRuns: 500 },
    );
  });
});

/** Loads the base config with `value` at `path` and checks the error it must give. */
function judged({ path, value }: { path: FieldPath; value: unknown }): void {
  const text = dump(withValue(path, value), { schema: WRITE_SCHEMA, lineWidth: -1 });
  const r = loadConfigText(text, "gen.yaml");
  expect(r.ok, `${formatPath(path)} = ${JSON.stringify(value)} was accepted:\n${text}`).toBe(false);
  if (r.ok) return;
  const issue = r.issues.find((i) => formatPath(i.path) === formatPath(path));
  expect(issue, `no issue on ${formatPath(path)} for ${JSON.stringify(value)}: ${JSON.stringify(r.issues)}`).toBeDefined();
  if (!issue) return;
  // the place: the value's first character, or the tag (`!!binary`) in front of it
  const { offset: want, lines } = expectedOffset(text, path);
  const lineStart = lines.lineStarts[issue.line - 1];
  const got = lineStart + issue.col - 1;
  expect(got <= want && /^(![^\s]*\s+)*$/.test(text.slice(got, want)), `${formatPath(path)} = ${JSON.stringify(value)}: at ${issue.line}:${issue.col}, value at ${JSON.stringify(lines.linePos(want))}\n${text}`).toBe(true);
  // the message says what was wrong, in our words
  expect(issue.message).not.toMatch(/Invalid input|Too (big|small)|Invalid option|required field is missing/);
  expect(issue.message.length).toBeGreaterThan(8);
}
