/** Small files (issue 18, item 6): no file in src/ over 300 lines, so none grows back into a class that holds it all. */
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const src = join(import.meta.dirname, "..", "..", "src");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : [];
  });
}

describe("source files", () => {
  it("none over 300 lines", () => {
    const all = files(src);
    expect(all.length).toBeGreaterThan(100);
    const long = all.map((f) => ({ file: f.slice(src.length + 1), lines: readFileSync(f, "utf8").split("\n").length - 1 })).filter((f) => f.lines > 300);
    expect(long).toEqual([]);
  });
});
