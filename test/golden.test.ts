/**
 * Golden files: each directory under test/golden holds a config (and the host
 * facts it is compiled against); every render format is compared with the
 * expected file beside it. UPDATE_GOLDEN=1 rewrites them; check the diff by hand.
 *
 * So that a reviewer can read them, large element lists (the Maglev tables) are
 * stored as a summary: how many entries, how many of them each verdict has, and
 * a sha256 of the full list, which still fails the test on any change. The nft
 * commands are stored one per line.
 */
import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfigText } from "../src/config/load.js";
import { compile } from "../src/compile/index.js";
import { noFacts, type HostFacts } from "../src/model/facts.js";
import { render, RENDER_FORMATS } from "../src/render/index.js";
import { replaceTableCommands } from "../src/model/nftTable.js";

const root = join(import.meta.dirname, "golden");
const update = process.env.UPDATE_GOLDEN === "1";

/** Element lists longer than this are summarised. */
const SUMMARY_OVER = 32;

function check(dir: string, name: string, actual: string): void {
  const path = join(dir, name);
  if (update || !existsSync(path)) {
    if (!update) throw new Error(`${path} missing: run with UPDATE_GOLDEN=1 and check it by hand`);
    writeFileSync(path, actual);
  }
  expect(actual, path).toBe(readFileSync(path, "utf8"));
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** "N × value" lines, most frequent first, then by value. */
function tally(values: string[]): string[] {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([v, n]) => `${n} × ${v}`);
}

function verdictText(value: unknown): string {
  const jump = (value as { jump?: { target?: string } } | null)?.jump?.target;
  return jump ? `jump ${jump}` : JSON.stringify(value);
}

/** The nft commands, one per line, with long element lists summarised. */
function nftGolden(commands: Record<string, unknown>[] | null): string {
  if (!commands) return "null\n";
  const lines = commands.map((command) =>
    JSON.stringify(command, (key, value: unknown) => {
      if (key !== "elem" || !Array.isArray(value) || value.length <= SUMMARY_OVER) return value;
      const values = value.map((e: unknown) => (Array.isArray(e) ? verdictText(e[1]) : "(key)"));
      return { entries: value.length, sha256: sha256(JSON.stringify(value)), byValue: tally(values) };
    }),
  );
  return `[\n${lines.join(",\n")}\n]\n`;
}

/** nft text with each long `elements = { ... }` line replaced by its summary. */
function nftTextGolden(text: string): string {
  return text
    .split("\n")
    .flatMap((line) => {
      const m = /^(\s*)elements = \{ (.*) \}$/.exec(line);
      const entries = m ? m[2].split(", ") : [];
      if (!m || entries.length <= SUMMARY_OVER) return [line];
      const summary = tally(entries.map((e) => e.split(" : ")[1] ?? "(key)"));
      return [`${m[1]}# elements: ${entries.length}, sha256 ${sha256(m[2])}`, ...summary.map((s) => `${m[1]}#   ${s}`)];
    })
    .join("\n");
}

describe("golden", () => {
  for (const name of readdirSync(root).sort()) {
    const dir = join(root, name);
    it(name, () => {
      const loaded = loadConfigText(readFileSync(join(dir, "config.yaml"), "utf8"), "config.yaml");
      if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
      const facts: HostFacts = existsSync(join(dir, "facts.json")) ? JSON.parse(readFileSync(join(dir, "facts.json"), "utf8")) : noFacts();
      const { desired, warnings } = compile(loaded.value, facts);
      for (const format of RENDER_FORMATS) {
        const text = render(desired, format);
        check(dir, `render.${format}`, format === "nft" ? nftTextGolden(text) : text);
      }
      check(dir, "nft.json", nftGolden(desired.nft ? replaceTableCommands(desired.nft) : null));
      if (desired.nftNetdev) check(dir, "nft-netdev.json", nftGolden(replaceTableCommands(desired.nftNetdev)));
      check(dir, "warnings.txt", warnings.join("\n") + "\n");
    });
  }
});
