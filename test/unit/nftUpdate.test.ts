import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compile } from "../../src/compile/index.js";
import { replaceTableCommands } from "../../src/model/nftTable.js";
import { targetUpdateCommands } from "../../src/plan/nftUpdate.js";
import { mustLoad } from "../helpers/config.js";

const example = readFileSync(join(import.meta.dirname, "..", "..", "examples", "load-balancer.yaml"), "utf8");
const commandsOf = (text: string) => replaceTableCommands(compile(mustLoad(text), { links: {}, rpFilter: {} }).desired.nft!);

describe("in-place target changes", () => {
  it("removing a target: its chain goes, and only the entries that change owner are rewritten", () => {
    const before = commandsOf(example);
    const after = commandsOf(example.replace(/\n      - \{ name: target-d[^\n]*/, ""));
    const update = targetUpdateCommands(before, after)!;
    expect(update.chains).toBe(1);
    // target-d held about a quarter of each table (v4 and v6), plus Maglev's collateral
    expect(update.entries).toBeGreaterThan(2 * 521 * 0.25);
    expect(update.entries).toBeLessThan(2 * 521 * 0.3);
    expect(update.commands.map((c) => Object.keys(c)[0] + " " + Object.keys(Object.values(c)[0] as object)[0])).toEqual([
      "delete element", "add element", "delete element", "add element", "flush chain", "delete chain",
    ]);
  });

  it("adding it back is the mirror image", () => {
    const update = targetUpdateCommands(commandsOf(example.replace(/\n      - \{ name: target-d[^\n]*/, "")), commandsOf(example))!;
    expect(update.commands.map((c) => Object.keys(c)[0])).toEqual(["add", "add", "delete", "add", "delete", "add"]);
  });

  it("anything else that changes means a whole new table", () => {
    expect(targetUpdateCommands(commandsOf(example), commandsOf(example.replace('destinationPorts: ["4000"]', 'destinationPorts: ["4001"]')))).toBeNull();
    expect(targetUpdateCommands(commandsOf(example), commandsOf(example))).toEqual({ commands: [], entries: 0, chains: 0 });
  });
});
