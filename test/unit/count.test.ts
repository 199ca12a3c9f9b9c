/**
 * scripts/count.mjs, the closing line CI reads: as root, a skipped test fails
 * the run unless a kernel feature explains it (test/helpers/skips.ts).
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const script = join(import.meta.dirname, "..", "..", "scripts", "count.mjs");
const dir = mkdtempSync(join(tmpdir(), "symroute-count-"));

function count(results: { fullName: string; status: string; meta?: Record<string, unknown> }[], tsc = "0", layers = "0") {
  const file = join(dir, `r${Math.random()}.json`);
  const passed = results.filter((r) => r.status === "passed").length;
  const skipped = results.filter((r) => r.status === "skipped").length;
  writeFileSync(file, JSON.stringify({ numPassedTests: passed, numFailedTests: 0, numPendingTests: skipped, testResults: [{ status: "passed", assertionResults: results }] }));
  const r = spawnSync(process.execPath, [script, file, tsc, layers], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const isRoot = process.getuid?.() === 0;

describe("count.mjs", () => {
  it("passes a run whose only skips are kernel features, and names them", () => {
    const r = count([
      { fullName: "a", status: "passed" },
      { fullName: "vrf", status: "skipped", meta: { kernelFeature: "no vrf support" } },
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("skipped for the kernel: no vrf support (1)");
    expect(r.out.trim().split("\n").at(-1)).toBe("1 passed, 0 failed, 1 skipped");
  });

  it.runIf(isRoot)("as root, fails a run with a test skipped for another reason", () => {
    const r = count([
      { fullName: "a", status: "passed" },
      { fullName: "statusPage needs chromium", status: "skipped", meta: {} },
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("skipped as root without a kernel reason: statusPage needs chromium");
    expect(r.out.trim().split("\n").at(-1)).toBe("1 passed, 1 failed, 1 skipped");
  });

  it("fails on a type check or a layering check that failed", () => {
    expect(count([{ fullName: "a", status: "passed" }], "2").code).toBe(1);
    const layers = count([{ fullName: "a", status: "passed" }], "0", "1");
    expect(layers.code).toBe(1);
    expect(layers.err).toContain("layering check failed");
  });
});
