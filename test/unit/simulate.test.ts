import { describe, expect, it } from "vitest";
import { kernelView } from "../../src/simulate/parse.js";
import { decide } from "../../src/simulate/route.js";
import { jhash, scaleToMod } from "../../src/simulate/jhash.js";

type Row = Record<string, unknown>;
const rule = (priority: number, extra: Row): Row => ({ priority, src: "all", ...extra });
const base = {
  rules4: [rule(0, { table: "255" }), rule(32766, { table: "254" }), rule(32767, { table: "253" })] as Row[],
  routes4: [
    { dst: "default", gateway: "10.0.0.254", dev: "eth0", table: "254" },
    { dst: "10.0.0.0/24", dev: "eth0", prefsrc: "10.0.0.1", scope: "253", table: "254" },
    { dst: "10.1.0.0/24", dev: "eth1", prefsrc: "10.1.0.1", scope: "253", table: "254" },
    { type: "2", dst: "10.0.0.1", dev: "eth0", prefsrc: "10.0.0.1", table: "255" },
    { dst: "default", gateway: "10.1.0.254", dev: "eth1", table: "100" },
    { type: "9", dst: "10.9.0.0/16", table: "100" },
    { type: "6", dst: "10.66.0.0/16", table: "100" },
  ] as Row[],
  addrs: [{ ifname: "eth0", addr_info: [{ local: "10.0.0.1", prefixlen: 24 }] }, { ifname: "eth1", addr_info: [{ local: "10.1.0.1", prefixlen: 24 }] }] as Row[],
};
const view = (rules: Row[]) => kernelView({ ...base, rules4: [...base.rules4, ...rules], rules6: [], routes6: [] });

describe("simulated routing decision", () => {
  it("follows the main table without policy, with the source the kernel picks", () => {
    expect(decide(view([]), { family: 4, dst: "8.8.8.8" }).result).toEqual({ type: "unicast", table: "main", dev: "eth0", via: "10.0.0.254", src: "10.0.0.1" });
    expect(decide(view([]), { family: 4, dst: "10.0.0.1" }).result).toMatchObject({ type: "local", dev: "lo" });
  });

  it("fwmark with a mask, from rules, and the source of the new table", () => {
    const v = view([rule(100, { fwmark: "0x10000", fwmask: "0xff0000", table: "100" })]);
    expect(decide(v, { family: 4, dst: "8.8.8.8", mark: 0x10005 }).result).toMatchObject({ dev: "eth1", via: "10.1.0.254", src: "10.1.0.1" });
    expect(decide(v, { family: 4, dst: "8.8.8.8", mark: 0x20000 }).result).toMatchObject({ dev: "eth0" });
  });

  it("throw continues with the next rule; a blackhole route stands even under suppress_prefixlength", () => {
    const v = view([rule(100, { table: "100", suppress_prefixlen: 0 })]);
    expect(decide(v, { family: 4, dst: "10.9.1.1" }).result).toMatchObject({ dev: "eth0" });
    expect(decide(v, { family: 4, dst: "10.66.1.1" }).result).toEqual({ type: "blackhole", error: "EINVAL", table: "100" });
    // the default route of table 100 has prefix length 0: suppressed, so main decides
    expect(decide(v, { family: 4, dst: "8.8.8.8" }).result).toMatchObject({ dev: "eth0" });
  });

  it("not inverts, goto jumps only to an existing priority, iif lo is the host's own traffic", () => {
    const v = view([
      rule(100, { not: null, src: "10.0.0.0", srclen: 8, action: "8" }),
      rule(110, { goto: 130 }),
      rule(120, { action: "6" }),
      rule(130, { iif: "lo", table: "100" }),
    ]);
    expect(decide(v, { family: 4, dst: "8.8.8.8", src: "192.0.2.1", iif: "eth0" }).result.type).toBe("prohibit");
    expect(decide(v, { family: 4, dst: "8.8.8.8", src: "10.0.0.1" }).result).toMatchObject({ dev: "eth1" });
    expect(decide(v, { family: 4, dst: "8.8.8.8", src: "10.0.0.9", iif: "eth0" }).result).toMatchObject({ dev: "eth0" });
  });

  it("jhash and nft's mod are the kernel's (checked against a real balancer in the kernel tests)", () => {
    expect(jhash(new Uint8Array([]), 0)).toBe(0xdeadbeef);
    expect(scaleToMod(0xffffffff, 521)).toBe(520);
    expect(scaleToMod(0, 521)).toBe(0);
  });
});
