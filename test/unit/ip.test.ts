import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { canonicalPrefix, formatAddress, parseAddress, parsePrefix, prefixContains, prefixesOverlap } from "../../src/net/ip.js";

describe("ip", () => {
  it("parses and prints IPv4 and IPv6 the way iproute2 does", () => {
    expect(formatAddress(parseAddress("192.0.2.1")!)).toBe("192.0.2.1");
    expect(formatAddress(parseAddress("2001:0db8:0:0:0:0:0:1")!)).toBe("2001:db8::1");
    expect(formatAddress(parseAddress("fd00:0:0:1::8")!)).toBe("fd00:0:0:1::8");
    expect(formatAddress(parseAddress("::")!)).toBe("::");
    expect(formatAddress(parseAddress("::ffff:20.0.0.1")!)).toBe("::ffff:1400:1");
    expect(canonicalPrefix("10.1.2.3/8")).toBe("10.0.0.0/8");
    expect(canonicalPrefix("0.0.0.0/0")).toBe("default");
    expect(canonicalPrefix("2001:db8::1/128")).toBe("2001:db8::1");
  });

  it("refuses what is not an address", () => {
    for (const bad of ["256.0.0.1", "1.2.3", "01.2.3.4", "1::2::3", "g::1", "", "1.2.3.4/33", "::/129", "1.2.3.4/"]) {
      expect(parsePrefix(bad), bad).toBeNull();
    }
  });

  it("round-trips every IPv6 address through text", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (value) => {
        const text = formatAddress({ family: 6, value });
        expect(parseAddress(text)).toEqual({ family: 6, value });
      }),
      { numRuns: 2000 },
    );
  });

  it("knows containment and overlap", () => {
    const a = parsePrefix("10.0.0.0/8")!;
    const b = parsePrefix("10.1.0.0/16")!;
    const c = parsePrefix("11.0.0.0/8")!;
    expect(prefixContains(a, b)).toBe(true);
    expect(prefixContains(b, a)).toBe(false);
    expect(prefixesOverlap(a, b)).toBe(true);
    expect(prefixesOverlap(a, c)).toBe(false);
    expect(prefixContains(a, parsePrefix("2001:db8::/32")!)).toBe(false);
  });
});
