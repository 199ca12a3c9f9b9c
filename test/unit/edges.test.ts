/** Edges of the command line that need no kernel: an unbuilt checkout, and whose metrics address a daemon takes. */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_METRICS, metricsAddress } from "../../src/cli/commands/run.js";

const repo = join(import.meta.dirname, "..", "..");

describe("edges", () => {
  it("bin/symroute.js in a checkout that was not built says what to run, exit 1, no stack trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "symroute-unbuilt-"));
    try {
      mkdirSync(join(dir, "bin"));
      copyFileSync(join(repo, "bin", "symroute.js"), join(dir, "bin", "symroute.js"));
      copyFileSync(join(repo, "package.json"), join(dir, "package.json"));
      const r = spawnSync(process.execPath, [join(dir, "bin", "symroute.js"), "--version"], { encoding: "utf8" });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`${join(dir, "dist", "symroute.mjs")} is missing`);
      expect(r.stderr).toContain("npm ci && npm run build");
      expect(r.stderr).not.toMatch(/^\s+at /m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("metrics: --metrics, then the file, then the default, which only the host's daemon takes", () => {
    expect(metricsAddress(undefined, undefined, undefined)).toBe(DEFAULT_METRICS);
    expect(metricsAddress(undefined, undefined, "blue")).toBe("off");
    expect(metricsAddress(undefined, "127.0.0.1:9481", "blue")).toBe("127.0.0.1:9481");
    expect(metricsAddress("127.0.0.1:9482", "127.0.0.1:9481", "blue")).toBe("127.0.0.1:9482");
  });
});
