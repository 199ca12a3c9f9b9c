import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compile } from "../../src/compile/index.js";
import { targetUpdate } from "../../src/plan/nftUpdate.js";
import { mustLoad } from "../helpers/config.js";
import { inputsOf } from "../../src/compile/inputs.js";
import { makePlan, nftDesiredText } from "../../src/plan/plan.js";
import { listingFingerprint } from "../../src/plan/nftListing.js";
import { nftCommands } from "../../src/apply/execute.js";

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

describe("in-place target changes with flow memory", () => {
  const memory = (text: string) => text.replace("    flows:", "    flowMemory: { timeout: 60s }\n    flows:");
  const compileWith = (text: string, downTargets: string[] = [], draining: string[] = []) =>
    compile(mustLoad(memory(text)), { links: {}, rpFilter: {} }, {}, inputsOf({ targetsDown: new Set(downTargets), targetsDraining: new Set(draining) })).desired.nft!;
  const verbs = (cs: Record<string, unknown>[]) => cs.map((c) => `${Object.keys(c)[0]} ${Object.keys(Object.values(c)[0] as object)[0]}`);

  it("a new target brings its flow sets before the rules that use them; the recall chain is rewritten in place", () => {
    const update = targetUpdate(compileWith(withoutD(example)), compileWith(example))!;
    expect(update).not.toBeNull();
    const v = verbs(update.commands);
    expect(v.slice(0, 2)).toEqual(["add set", "add set"]);
    expect(v.filter((x) => x === "flush chain").length).toBe(4); // recall4, recall6 and the SYN chains syn4, syn6
    expect(v).not.toContain("flush set");
  });

  it("a target going down leaves the recall chain and forgets its flows; one coming back starts with none", () => {
    const down = targetUpdate(compileWith(example), compileWith(example, ["stream-a/target-d"]))!;
    const flushed = down.commands.filter((c) => "flush" in c && "set" in (c.flush as object)).map((c) => ((c.flush as { set: { name: string } }).set.name));
    expect(flushed.sort()).toEqual(["lb0_t_81bb81d7_f4", "lb0_t_81bb81d7_f6"]);
    const back = targetUpdate(compileWith(example, ["stream-a/target-d"]), compileWith(example))!;
    expect(verbs(back.commands)).not.toContain("flush set");
  });

  it("a draining target keeps its place in the recall chain while leaving the Maglev table", () => {
    const table = compileWith(example, [], ["stream-a/target-d"]);
    const recall = table.rules.filter((r) => r.chain === "lb0_recall4").map((r) => r.comment);
    expect(recall).toContain("stream-a: flow memory of target-d");
    const owners = new Set((table.maps ?? []).flatMap((m) => m.elem.map(([, chain]) => chain)));
    expect(owners.has("lb0_t_81bb81d7")).toBe(false);
    const update = targetUpdate(compileWith(example), table)!;
    expect(verbs(update.commands)).not.toContain("flush set");
  });

  it("removing a target deletes its sets after the chains that used them", () => {
    const v = verbs(targetUpdate(compileWith(example), compileWith(withoutD(example)))!.commands);
    expect(v.slice(-2)).toEqual(["delete set", "delete set"]);
    expect(v.lastIndexOf("delete chain")).toBeLessThan(v.indexOf("delete set"));
  });

  it("turning memory on or changing its timeout is a new table", () => {
    expect(targetUpdate(tableOf(example), compileWith(example))).toBeNull();
    expect(targetUpdate(compileWith(example), compile(mustLoad(example.replace("    flows:", "    flowMemory: { timeout: 30s }\n    flows:")), { links: {}, rpFilter: {} }).desired.nft!)).toBeNull();
  });
});

describe("in-place target changes of a fast path (netdev table)", () => {
  const fast = readFileSync(join(import.meta.dirname, "..", "..", "examples", "load-balancer-fastpath.yaml"), "utf8");
  const desiredOf = (text: string, draining: string[] = []) => compile(mustLoad(text), { links: {}, rpFilter: {} }, {}, inputsOf({ targetsDraining: new Set(draining) })).desired;

  it("a target removed: its per-family chains and sets go, the maps' changed entries are rewritten, as in the inet table", () => {
    const update = targetUpdate(desiredOf(fast).nftNetdev!, desiredOf(withoutD(fast)).nftNetdev!)!;
    expect(update).not.toBeNull();
    const inet = targetUpdate(desiredOf(fast).nft!, desiredOf(withoutD(fast)).nft!)!;
    // the same Maglev entries move in both paths
    expect(update.entries).toBe(inet.entries);
    const deleted = update.commands.filter((c) => "delete" in c).map((c) => JSON.stringify(c));
    expect(deleted.some((c) => c.includes('"chain"') && c.includes("_4"))).toBe(true);
    expect(deleted.some((c) => c.includes('"chain"') && c.includes("_6"))).toBe(true);
    expect(deleted.filter((c) => c.includes('"set"')).length).toBe(2);
    expect(update.commands.every((c) => JSON.stringify(c).includes('"family":"netdev"'))).toBe(true);
  });

  it("a drain, with the routed path's update, goes in one transaction", () => {
    const before = desiredOf(fast);
    const after = desiredOf(fast, ["stream-a/target-a"]);
    const record = (t: typeof before.nft) => ({ desired: nftDesiredText(t!), live: null, table: t });
    const live = { rules: [], routes: [], nft: [], nftNetdev: [], sysctls: {}, interfaces: [] };
    const applied = { nftDesired: record(before.nft).desired, nftLive: listingFingerprint([]), nftNetdevDesired: record(before.nftNetdev).desired, nftNetdevLive: listingFingerprint([]), desired: { nft: before.nft, nftNetdev: before.nftNetdev } };
    const plan = makePlan({ desired: after, live, applied, sysctlOriginals: {}, priorities: { first: 1000, last: 1999 } });
    expect(plan.nft.action).toBe("update");
    expect(plan.nftNetdev.action).toBe("update");
    const families = new Set(nftCommands(plan).map((c) => (Object.values(Object.values(c)[0] as object)[0] as { family: string }).family));
    expect(families).toEqual(new Set(["inet", "netdev"]));
  });
});
