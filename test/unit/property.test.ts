/**
 * Thousands of generated and mutated configs: loading never crashes; each is
 * either a clear list of located errors or a config that compiles to the same
 * kernel objects whatever the order of its keys. (Apply then plan is empty is a kernel test: propertyApply.)
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { stringify } from "yaml";
import { loadConfigText } from "../../src/config/load.js";
import { compile } from "../../src/compile/index.js";
import { AllocationError } from "../../src/compile/allocate.js";

const iface = fc.oneof(fc.constantFrom("eth0", "eth1", "eth2", "eth0.500", "wan-a", "ppp0"), fc.string({ maxLength: 20 }));
const v4 = fc.oneof(fc.ipV4(), fc.constantFrom("203.0.113.1", "192.0.2.1", "300.1.1.1", "::1"));
const v6 = fc.oneof(fc.ipV6(), fc.constantFrom("2001:db8::1", "fe80::1", "1.2.3.4", "::"));
const cidr = fc.oneof(fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 33 })).map(([a, l]) => `${a}/${l}`), fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 129 })).map(([a, l]) => `${a}/${l}`));
const name = fc.oneof(fc.constantFrom("isp1", "isp2", "svc", "a"), fc.string({ maxLength: 12 }));
const garbage = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }));

const uplink = fc.record(
  {
    name,
    interface: iface,
    gateway: v4,
    gateway6: v6,
    table: fc.oneof(fc.integer({ min: 1, max: 300 }), garbage),
    returnTraffic: fc.constantFrom("connmark", "none", "bogus"),
    rpFilter: fc.constantFrom("loose", "strict", "off", "keep", "x"),
    addresses: fc.array(cidr, { maxLength: 3 }),
  },
  { requiredKeys: ["name", "interface"] },
);
const service = fc.record(
  {
    name,
    addresses: fc.array(fc.oneof(v4, v6), { maxLength: 3 }),
    uplink: name,
    strategy: fc.constantFrom("source", "mark", "static", "vrf", "nope"),
    clients: fc.array(cidr, { maxLength: 2 }),
  },
  { requiredKeys: ["name", "addresses", "uplink"] },
);
const config = fc.record(
  {
    version: fc.oneof(fc.constant(1), garbage),
    allocate: fc.record({ tables: fc.constantFrom("1000-1999", "100-300", "5-1", "x"), priorities: fc.constantFrom("1000-1999", "0-10", "30000-32767"), markMask: fc.constantFrom("0x00ff0000", "0xf0", "0x0", "0xf0f0") }, { requiredKeys: [] }),
    uplinks: fc.array(uplink, { maxLength: 4 }),
    services: fc.array(service, { maxLength: 4 }),
    extra: garbage,
  },
  { requiredKeys: ["version"] },
);

const goodUplink = fc.record(
  {
    name: fc.constantFrom("isp1", "isp2", "isp3"),
    interface: fc.constantFrom("eth1", "eth2", "eth0.500"),
    gateway: fc.constantFrom("203.0.113.1", "192.0.2.1"),
    gateway6: fc.constantFrom("2001:db8::1", "fe80::1"),
    returnTraffic: fc.constantFrom("connmark", "none"),
    rpFilter: fc.constantFrom("loose", "strict", "off", "keep"),
  },
  { requiredKeys: ["name", "interface", "gateway"] },
);
const goodService = fc.record({
  name: fc.constantFrom("a", "b", "c"),
  addresses: fc.array(fc.constantFrom("198.51.100.1", "198.51.100.2", "2001:db8:5::1"), { minLength: 1, maxLength: 2 }),
  uplink: fc.constantFrom("isp1", "isp2"),
  strategy: fc.constantFrom("source", "mark", "vrf"),
});
const nearlyValid = fc.record({ version: fc.constant(1), uplinks: fc.uniqueArray(goodUplink, { maxLength: 3, selector: (u) => u.name }), services: fc.uniqueArray(goodService, { maxLength: 3, selector: (s) => s.name }) });

const FACTS = { links: { eth1: { addresses: ["203.0.113.8/24", "2001:db8::8/64"] } }, rpFilter: { all: 1, eth1: 1, lo: 0 } };

/** The same config with every mapping's keys in reverse order: YAML says a mapping has no order, so neither may compile. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reverseKeys(v)]));
}

function check(generated: unknown): "valid" | "invalid" {
  const text = stringify(generated);
  const r = loadConfigText(text, "gen.yaml");
  if (!r.ok) {
    expect(r.issues.length).toBeGreaterThan(0);
    for (const issue of r.issues) {
      expect(issue.line).toBeGreaterThanOrEqual(1);
      expect(issue.col).toBeGreaterThanOrEqual(1);
      expect(issue.message.length).toBeGreaterThan(3);
    }
    return "invalid";
  }
  let compiled;
  try {
    compiled = compile(r.value, FACTS);
  } catch (e) {
    expect(e).toBeInstanceOf(AllocationError);
    return "invalid";
  }
  // the same config written with its keys in another order is the same config: the same kernel objects, the same
  // numbers (table ids, priorities, marks); that apply then plan is empty is checked on a real kernel (propertyApply)
  const reordered = loadConfigText(stringify(reverseKeys(generated)), "gen-reordered.yaml");
  expect(reordered.ok).toBe(true);
  if (reordered.ok) expect(JSON.stringify(compile(reordered.value, FACTS).desired)).toBe(JSON.stringify(compiled.desired));
  return "valid";
}

describe("generated configs", () => {
  it("never crash the loader or compile; valid ones plan to nothing after apply", () => {
    const seen = { valid: 0, invalid: 0 };
    fc.assert(
      fc.property(fc.oneof(config, nearlyValid), (c) => {
        seen[check(c)] += 1;
      }),
      { numRuns: 3000 },
    );
    expect(seen.valid).toBeGreaterThan(20);
    expect(seen.invalid).toBeGreaterThan(100);
  });

  it("mutated text of a valid config never crashes the loader", () => {
    const base = stringify({ version: 1, uplinks: [{ name: "isp1", interface: "eth1", gateway: "203.0.113.1" }], services: [{ name: "s", addresses: ["192.0.2.5"], uplink: "isp1" }] });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: base.length }), fc.integer({ min: 0, max: 5 }), fc.string({ maxLength: 6 }), (at, cut, insert) => {
        check(base.slice(0, at) + insert + base.slice(at + cut));
      }),
      { numRuns: 3000 },
    );
  });
});
