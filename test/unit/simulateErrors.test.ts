/**
 * The error codes of the simulator follow the kernel: the differential test in
 * test/kernel/simulate.test.ts compares them, this pins them without root.
 */
import { describe, expect, it } from "vitest";
import { kernelView } from "../../src/simulate/parse.js";
import { decide } from "../../src/simulate/route.js";

type Row = Record<string, unknown>;
const rules4: Row[] = [
  { priority: 0, src: "all", table: "255" },
  { priority: 100, src: "10.7.0.0", srclen: 16, action: "unreachable" },
  { priority: 101, src: "10.8.0.0", srclen: 16, action: "prohibit" },
  { priority: 102, src: "10.9.0.0", srclen: 16, action: "blackhole" },
  { priority: 200, src: "all", table: "100" },
  { priority: 32766, src: "all", table: "254" },
];
const routes4: Row[] = [
  { type: "7", dst: "10.66.0.0/16", table: "100" },
  { dst: "10.0.0.0/24", dev: "eth0", prefsrc: "10.0.0.1", scope: "253", table: "254" },
];
const view = kernelView({ rules4, routes4, rules6: [], routes6: [], addrs: [{ ifname: "eth0", addr_info: [{ local: "10.0.0.1", prefixlen: 24 }] }] });

describe("simulated routing errors", () => {
  it("an unreachable rule fails with ENETUNREACH, an unreachable route with EHOSTUNREACH", () => {
    expect(decide(view, { family: 4, dst: "10.0.0.5", src: "10.7.0.1", iif: "eth0" }).result).toEqual({ type: "unreachable", error: "ENETUNREACH" });
    expect(decide(view, { family: 4, dst: "10.66.0.5" }).result).toMatchObject({ type: "unreachable", error: "EHOSTUNREACH" });
  });

  it("prohibit and blackhole rules fail with EACCES and EINVAL; no route at all is ENETUNREACH", () => {
    expect(decide(view, { family: 4, dst: "10.0.0.5", src: "10.8.0.1", iif: "eth0" }).result).toEqual({ type: "prohibit", error: "EACCES" });
    expect(decide(view, { family: 4, dst: "10.0.0.5", src: "10.9.0.1", iif: "eth0" }).result).toEqual({ type: "blackhole", error: "EINVAL" });
    expect(decide(view, { family: 4, dst: "8.8.8.8" }).result).toEqual({ type: "unreachable", error: "ENETUNREACH" });
  });
});
