import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compile } from "../../src/compile/index.js";
import { targetUpdate } from "../../src/plan/nftUpdate.js";
import { mustLoad } from "../helpers/config.js";

const example = readFileSync(join(import.meta.dirname, "..", "..", "examples", "load-balancer.yaml"), "utf8");
const tableOf = (text: string) => compile(mustLoad(text), { links: {}, rpFilter: {} }).desired.nft!;
const withoutD = (text: string) => text.replace(/\n      - \{ name: target-d[^\n]*/, "");

describe("in-place target changes", () => {
  it("removing a target: its chain goes, and only the entries that change owner are rewritten", () => {
    const update = targetUpdate(tableOf(example), tableOf(withoutD(example)))!;
    expect(update.chains).toBe(1);
    // target-d held about a quarter of each table (v4 and v6), plus Maglev's collateral
    expect(update.entries).toBeGreaterThan(2 * 521 * 0.25);
    expect(update.entries).toBeLessThan(2 * 521 * 0.3);
    expect(update.commands.map((c) => Object.keys(c)[0] + " " + Object.keys(Object.values(c)[0] as object)[0])).toEqual([
      "delete element", "add element", "delete element", "add element", "flush chain", "delete chain",
    ]);
  });

  it("adding it back is the mirror image", () => {
    const update = targetUpdate(tableOf(withoutD(example)), tableOf(example))!;
    expect(update.commands.map((c) => Object.keys(c)[0])).toEqual(["add", "add", "delete", "add", "delete", "add"]);
    const rule = update.commands.find((c) => "rule" in ((c as { add?: object }).add ?? {})) as { add: { rule: Record<string, unknown> } };
    expect(rule.add.rule).toEqual({ family: "inet", table: "symroute", chain: "lb0_t_81bb81d7", expr: [{ mangle: { key: { meta: { key: "mark" } }, value: 0x40000 } }, { counter: null }], comment: "stream-a: target target-d" });
  });

  it("a target whose mark moves gets its chain rewritten in place", () => {
    // target-a's mark is the first one: without it, every other target's mark moves down
    const update = targetUpdate(tableOf(example), tableOf(example.replace(/\n      - \{ name: target-a[^\n]*/, "")))!;
    expect(update.chains).toBe(4);
    expect(update.commands.filter((c) => "flush" in c).length).toBe(4);
  });

  it("anything else that changes means a whole new table", () => {
    expect(targetUpdate(tableOf(example), tableOf(example.replace('destinationPorts: ["4000"]', 'destinationPorts: ["4001"]')))).toBeNull();
    expect(targetUpdate(tableOf(example), tableOf(example))).toEqual({ commands: [], entries: 0, chains: 0 });
  });
});
