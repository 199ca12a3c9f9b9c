/**
 * What a real host can lack or hold: a missing `nft`, `ip` or `sysctl` stops
 * every command before anything changes (exit 1, the package named); a state
 * file that is corrupt or from a newer symroute is named with what to do, and
 * destroy still cleans up from the kernel's own tags.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { Lab } from "../../src/lab/lab.js";
import { statePath } from "../../src/kernel/state.js";
import { buildTwoLinkHost, cli, configFile, isRoot, kernelSnapshot, RP_KEYS, stateDir, TWO_UPLINKS_YAML } from "../helpers/kernel.js";

/** A PATH holding every tool symroute runs but `missing`. */
function pathWithout(missing: string): string {
  const dir = mkdtempSync(join(tmpdir(), "symroute-path-"));
  for (const tool of ["ip", "nft", "sysctl", "grep", "flock", "cat", "conntrack", "arping"].filter((t) => t !== missing)) {
    try {
      const where = execFileSync("which", [tool], { encoding: "utf8" }).trim();
      if (where) symlinkSync(where, join(dir, tool));
    } catch {
      // not on this machine either; the test only needs the one it removes to be missing
    }
  }
  return dir;
}

describe.skipIf(!isRoot)("a host that lacks tools or holds a bad state file", () => {
  const lab = new Lab("ht");
  let ns = "";
  let pristine = "";
  const file = configFile(TWO_UPLINKS_YAML);
  beforeAll(async () => {
    await buildTwoLinkHost(lab);
    ns = lab.ns("h");
    pristine = await kernelSnapshot(lab, "h", RP_KEYS);
  });
  afterAll(async () => {
    cli(["destroy", "--netns", ns]);
    await lab.teardown();
  });

  for (const [tool, pkg] of [["nft", "nftables"], ["ip", "iproute2"], ["sysctl", "procps"]] as const) {
    it(`without ${tool}: apply, plan, destroy and status exit 1 with "${tool} not found: install the ${pkg} package" and change nothing`, async () => {
      expect(cli(["apply", file, "--netns", ns]).code).toBe(0);
      const applied = await kernelSnapshot(lab, "h", RP_KEYS);
      const PATH = pathWithout(tool);
      for (const args of [["apply", file], ["plan", file], ["destroy"], ["status"]]) {
        const r = cli([...args, "--netns", ns], { PATH });
        expect(r.code, `${args[0]}: ${r.stderr}`).toBe(1);
        expect(r.stderr).toContain(`${tool} not found: install the ${pkg} package`);
        expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
      }
      expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(applied);
      expect(existsSync(statePath(ns))).toBe(true);
      expect(cli(["destroy", "--netns", ns]).code).toBe(0);
      expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(pristine);
    });
  }

  for (const [what, content, expected] of [
    ["a corrupt state file", "{ not json", "not valid JSON"],
    ["a state file from a newer symroute", JSON.stringify({ version: 7, applied: null }), "written by a newer symroute (state version 7"],
    ["a state file of the wrong shape", JSON.stringify({ version: 1, applied: 5 }), "not a symroute state"],
  ] as const) {
    it(`${what}: apply and plan exit 1 naming the file; status warns; destroy cleans up by kernel tags and moves the file aside`, async () => {
      expect(cli(["apply", file, "--netns", ns]).code).toBe(0);
      writeFileSync(statePath(ns), content);
      for (const args of [["apply", file], ["plan", file]]) {
        const r = cli([...args, "--netns", ns]);
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toContain(`state file ${statePath(ns)}: ${expected}`);
        expect(r.stderr).toContain("symroute destroy");
      }
      const s = cli(["status", "--netns", ns]);
      expect(s.code).toBe(0);
      expect(s.stdout).toContain(expected);
      expect(s.stdout).toMatch(/Owned: [1-9][0-9]* rules/);
      const d = cli(["destroy", "--netns", ns]);
      expect(d.code, d.stderr).toBe(0);
      expect(d.stderr).toContain("could not be restored");
      expect(existsSync(statePath(ns))).toBe(false);
      expect(readdirSync(stateDir).some((f) => f.startsWith(`netns-${ns}.json.unusable-`))).toBe(true);
      // the sysctls this apply changed could not be known: put them back by hand, as the message tells a user to;
      // then the whole kernel (rules, routes, nft) must be as before
      await lab.exec("h", ["sysctl", "-q", "-w", "net/ipv4/conf/eth1/rp_filter=0", "net/ipv4/conf/eth2/rp_filter=0"]);
      expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(pristine);
    });
  }

  it("a symlink planted at the state file's place is never followed", async () => {
    const target = join(mkdtempSync(join(tmpdir(), "symroute-victim-")), "victim");
    writeFileSync(target, "precious");
    mkdirSync(stateDir, { recursive: true });
    symlinkSync(target, statePath(ns));
    const r = cli(["apply", file, "--netns", ns]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is a symbolic link");
    expect(execFileSync("cat", [target], { encoding: "utf8" })).toBe("precious");
    expect(cli(["destroy", "--netns", ns]).code).toBe(0);
    expect(execFileSync("cat", [target], { encoding: "utf8" })).toBe("precious");
  });
});
