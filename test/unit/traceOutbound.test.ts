/**
 * trace names the uplink a new outgoing connection takes now: the kernel's
 * jhash for `sticky: source` (checked against the same hash computed here),
 * the largest share for a random draw, and the next tier when an uplink is down.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { kernelView } from "../../src/simulate/parse.js";
import { viewAfterApply } from "../../src/simulate/fromDesired.js";
import { trace } from "../../src/simulate/trace.js";
import { compile } from "../../src/compile/index.js";
import { jhash, scaleToMod } from "../../src/simulate/jhash.js";
import { mustLoad } from "../helpers/config.js";
import { inputsOf } from "../../src/compile/inputs.js";

const text = readFileSync(join(import.meta.dirname, "..", "..", "examples", "outbound.yaml"), "utf8");
const FACTS = {
  links: { eth1: { addresses: ["203.0.113.8/24"], up: true }, eth2: { addresses: ["192.0.2.31/24"], up: true }, wwan0: { addresses: ["100.64.0.8/24"], up: true }, lan0: { addresses: ["10.10.0.1/24", "10.20.0.1/24"], up: true } },
  rpFilter: {},
};
type Row = Record<string, unknown>;
const live = kernelView({
  rules4: [{ priority: 0, src: "all", table: "255" }, { priority: 32766, src: "all", table: "254" }, { priority: 32767, src: "all", table: "253" }] as Row[],
  routes4: [
    { dst: "default", gateway: "203.0.113.1", dev: "eth1", table: "254" },
    { dst: "203.0.113.0/24", dev: "eth1", prefsrc: "203.0.113.8", scope: "253", table: "254" },
    { dst: "192.0.2.0/24", dev: "eth2", prefsrc: "192.0.2.31", scope: "253", table: "254" },
    { dst: "100.64.0.0/24", dev: "wwan0", prefsrc: "100.64.0.8", scope: "253", table: "254" },
    { dst: "10.10.0.0/24", dev: "lan0", prefsrc: "10.10.0.1", scope: "253", table: "254" },
    { dst: "10.20.0.0/24", dev: "lan0", prefsrc: "10.20.0.1", scope: "253", table: "254" },
  ] as Row[],
  addrs: [] as Row[],
  rules6: [],
  routes6: [],
});

function traced(down: string[], src: string) {
  const { desired } = compile(mustLoad(text), FACTS, {}, inputsOf({ uplinksDown: new Set(down) }));
  const view = viewAfterApply(live, desired);
  return trace(view, { marks: desired.marks }, { family: 4, src, dst: "8.8.8.8", iif: "lan0", proto: 6, sport: 40000, dport: 443 });
}

describe("trace of outbound policies", () => {
  it("a random draw: the trace says the shares and follows the largest (isp1, 3:1)", () => {
    const t = traced([], "10.10.0.5");
    expect(t.steps.map((s) => s.text).join("\n")).toMatch(/outbound lan: new connection drawn at random among isp1 75%, isp2 25%; this trace follows isp1/);
    expect(t.result).toMatchObject({ dev: "eth1", via: "203.0.113.1" });
  });

  it("isp1 and isp2 down: tier 2 (lte) takes every new connection", () => {
    const t = traced(["isp1", "isp2"], "10.10.0.5");
    expect(t.steps.map((s) => s.text).join("\n")).toMatch(/among lte 100%/);
    expect(t.result).toMatchObject({ dev: "wwan0", via: "100.64.0.1" });
  });

  it("sticky source: the uplink the kernel's jhash of the address names, the same for every connection of that source", () => {
    const { desired } = compile(mustLoad(text), FACTS, {}, inputsOf({}));
    const guests = desired.marks!.outbound!.find((p) => p.name === "guests")!;
    const seen = new Set<string>();
    for (let i = 2; i < 60; i++) {
      const src = `10.20.0.${i}`;
      const n = scaleToMod(jhash(Uint8Array.from([10, 20, 0, i]), guests.seed), guests.total);
      const want = guests.draw.find((d) => n >= d.first && n <= d.last)!.uplink;
      const t = traced([], src);
      expect(t.steps.map((s) => s.text).join("\n")).toContain(`-> uplink ${want}`);
      expect(t.result.dev).toBe(want === "isp1" ? "eth1" : "eth2");
      seen.add(want);
    }
    expect(seen).toEqual(new Set(["isp1", "isp2"]));
  });
});
