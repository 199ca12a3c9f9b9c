/**
 * Golden files: each directory under test/golden holds a config (and the host
 * facts it is compiled against); every render format is compared with the
 * expected file beside it. UPDATE_GOLDEN=1 rewrites them; check the diff by hand.
 */
import { describe, expect, it } from "vitest";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfigText } from "../src/config/load.js";
import { compile } from "../src/compile/index.js";
import { noFacts, type HostFacts } from "../src/model/facts.js";
import { render, RENDER_FORMATS } from "../src/render/index.js";
import { replaceTableCommands } from "../src/model/nftTable.js";

const root = join(import.meta.dirname, "golden");
const update = process.env.UPDATE_GOLDEN === "1";

function check(dir: string, name: string, actual: string): void {
  const path = join(dir, name);
  if (update || !existsSync(path)) {
    if (!update) throw new Error(`${path} missing: run with UPDATE_GOLDEN=1 and check it by hand`);
    writeFileSync(path, actual);
  }
  expect(actual, path).toBe(readFileSync(path, "utf8"));
}

describe("golden", () => {
  for (const name of readdirSync(root).sort()) {
    const dir = join(root, name);
    it(name, () => {
      const loaded = loadConfigText(readFileSync(join(dir, "config.yaml"), "utf8"), "config.yaml");
      if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
      const facts: HostFacts = existsSync(join(dir, "facts.json")) ? JSON.parse(readFileSync(join(dir, "facts.json"), "utf8")) : noFacts();
      const { desired, warnings } = compile(loaded.value, facts);
      for (const format of RENDER_FORMATS) check(dir, `render.${format}`, render(desired, format));
      check(dir, "nft.json", JSON.stringify(desired.nft ? replaceTableCommands(desired.nft) : null, null, 1) + "\n");
      check(dir, "warnings.txt", warnings.join("\n") + "\n");
    });
  }
});
