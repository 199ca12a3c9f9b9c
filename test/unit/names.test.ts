/**
 * The names writer and readers share (model/names.ts): every rule comment
 * compile writes for a balancer reads back as the same rule, and every rule
 * of the compiled load-balancer examples has a comment that parses, so the
 * engine's counters and the live trace cannot drift from compile.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { lbComment, parseLbComment, parseTargetKey, targetKey, type LbRule } from "../../src/model/names.js";
import { compile } from "../../src/compile/index.js";
import { mustLoad } from "../helpers/config.js";

const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,20}$/);
const rule: fc.Arbitrary<LbRule> = fc.oneof(
  fc.constantFrom<LbRule>({ kind: "to vip" }, { kind: "replies" }, { kind: "local errors" }, { kind: "errors follow" }, { kind: "no flow" }, { kind: "lookup" }, { kind: "not remembered" }, { kind: "syn" }, { kind: "new connection" }, { kind: "fast entry" }),
  name.map((flow): LbRule => ({ kind: "flow", flow })),
  name.map((flow): LbRule => ({ kind: "fast flow", flow })),
  name.map((target): LbRule => ({ kind: "memory", target })),
  name.map((target): LbRule => ({ kind: "syn forgets", target })),
  name.map((target): LbRule => ({ kind: "target", target })),
  name.map((target): LbRule => ({ kind: "fast target", target })),
  fc.tuple(fc.nat(70000), fc.nat(70000)).map(([first, last]): LbRule => ({ kind: "entries", first, last })),
);

describe("names shared by writer and readers", () => {
  it("a balancer's rule comment reads back as the same rule, whatever the names", () => {
    fc.assert(fc.property(name, rule, (balancer, r) => {
        expect(parseLbComment(lbComment(balancer, r))).toEqual({ balancer, rule: r });
      }));
  });

  it("a target key reads back as its balancer and target", () => {
    fc.assert(fc.property(name, name, (b, t) => {
        expect(parseTargetKey(targetKey(b, t))).toEqual({ balancer: b, target: t });
      }));
  });

  it("every balancer rule compile writes in the examples has a comment that parses", () => {
    for (const file of ["load-balancer.yaml", "load-balancer-dynamic.yaml", "load-balancer-fastpath.yaml"]) {
      const text = readFileSync(join(import.meta.dirname, "..", "..", "examples", file), "utf8");
      const { desired } = compile(mustLoad(text), { links: {}, rpFilter: {} });
      const rules = [...(desired.nft?.rules ?? []), ...(desired.nftNetdev?.rules ?? [])].filter((r) => r.chain.startsWith("lb") && r.chain !== "lb_defrag" && r.comment);
      expect(rules.length, file).toBeGreaterThan(5);
      for (const r of rules) expect(parseLbComment(r.comment!), `${file}: ${r.comment}`).not.toBeNull();
    }
  });
});
