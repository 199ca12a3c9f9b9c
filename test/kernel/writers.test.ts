/**
 * One writer at a time, as processes: concurrent apply/apply (same and
 * different configs) and apply/destroy end with the kernel as the last
 * writer's config and a state that matches it; a held lock makes a second
 * command wait and then exit 1 naming the holder; a pending --confirm-timeout
 * is confirmed by a later apply and cancelled by destroy, and a revert puts
 * back exactly the state before its own apply; SIGTERM and SIGINT in the
 * middle of an apply roll back (exit 3).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { acquireLock } from "../../src/kernel/lock.js";
import { readState, statePath } from "../../src/kernel/state.js";
import { buildTwoLinkHost, cli, cliAsync, configFile, isRoot, kernelSnapshot, RP_KEYS, TWO_UPLINKS_YAML } from "../helpers/kernel.js";
import { TWO_UPLINKS } from "../helpers/config.js";

const A = configFile(TWO_UPLINKS_YAML, "a.yaml");
// B differs: no service, isp2 with rp_filter off (so `all` is lowered on a strict host)
const B = configFile(TWO_UPLINKS.replace("    gateway: 192.0.2.1\n", "    gateway: 192.0.2.1\n    rpFilter: off\n"), "b.yaml");

describe.skipIf(!isRoot)("one writer at a time", () => {
  const lab = new Lab("wr");
  let ns = "";
  let pristine = "";
  beforeAll(async () => {
    await buildTwoLinkHost(lab);
    ns = lab.ns("h");
    // a Debian-like host: strict enough that B lowers `all`
    await lab.exec("h", ["sysctl", "-q", "-w", "net/ipv4/conf/all/rp_filter=2", "net/ipv4/conf/eth1/rp_filter=1", "net/ipv4/conf/eth2/rp_filter=1"]);
    pristine = await kernelSnapshot(lab, "h", RP_KEYS);
  });
  afterAll(async () => {
    cli(["destroy", "--netns", ns]);
    await lab.teardown();
  });

  /** The state names a config and the kernel matches it with nothing left over, or neither holds anything of symroute's. */
  async function expectStateMatchesKernel(label: string): Promise<string> {
    const state = readState(ns);
    if (state.applied) {
      const file = state.applied.file!;
      const plan = cli(["plan", file, "--netns", ns, "--exit-code"]);
      expect(plan.code, `${label}: plan of the last writer's ${file}\n${plan.stdout}`).toBe(0);
      const status = JSON.parse(cli(["status", "--netns", ns, "--json"]).stdout) as { drift: string[] };
      expect(status.drift, label).toEqual([]);
      return file;
    }
    expect(await kernelSnapshot(lab, "h", RP_KEYS), `${label}: nothing applied, so the kernel is pristine`).toBe(pristine);
    return "none";
  }

  const kinds: [string, () => [string[], string[]]][] = [
    ["apply A / apply A", () => [["apply", A], ["apply", A]]],
    ["apply A / apply B", () => [["apply", A], ["apply", B]]],
    ["apply B / destroy", () => [["apply", B], ["destroy"]]],
  ];
  for (const [kind, args] of kinds) {
    it(`20 concurrent pairs of ${kind}: the kernel ends as the last writer's config, plan empty, state matching`, async () => {
      const endings = new Map<string, number>();
      let waited = 0;
      for (let i = 0; i < 20; i++) {
        const [x, y] = args();
        // alternate which starts first, so both orders happen
        const pair = i % 2 === 0 ? [x, y] : [y, x];
        const runs = pair.map((a) => cliAsync([...a, "--netns", ns, "--json"]));
        const results = await Promise.all(runs.map((r) => r.done));
        for (const r of results) expect(r.code, `${kind} #${i}: ${r.stderr}`).toBe(0);
        // an uncontended lock takes a few ms; one that waited for the other command of the pair, its apply's time
        if (results.some((r) => (JSON.parse(r.stdout) as { lockWaitedMs: number }).lockWaitedMs > 30)) waited += 1;
        const last = await expectStateMatchesKernel(`${kind} #${i}`);
        endings.set(last, (endings.get(last) ?? 0) + 1);
      }
      // the pairs really overlapped: in some of them one command waited for the other
      expect(waited).toBeGreaterThan(0);
      console.log(`${kind}: 20 pairs, ${waited} where one waited for the other's lock, final states ${JSON.stringify(Object.fromEntries(endings))}`);
    }, 180_000);
  }

  it("a command that cannot get the lock within --wait exits 1 naming the holder's pid, and changes nothing", async () => {
    expect(cli(["destroy", "--netns", ns]).code).toBe(0);
    const lock = await acquireLock(statePath(ns), { waitMs: 1000, command: "test holder" });
    try {
      const started = Date.now();
      const r = cli(["apply", A, "--netns", ns, "--wait", "1s"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`pid ${process.pid}`);
      expect(r.stderr).toContain("test holder");
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(pristine);
    } finally {
      await lock.release();
    }
    expect(cli(["apply", A, "--netns", ns, "--wait", "1s"]).code).toBe(0);
    expect(cli(["destroy", "--netns", ns]).code).toBe(0);
  });

  it("a killed holder releases the lock at once (the kernel drops the flock with the process)", async () => {
    const run = cliAsync(["apply", A, "--netns", ns], { SYMROUTE_FAULT: "pause-before:ip4" });
    await run.printed("paused before ip4");
    run.child.kill("SIGKILL");
    await run.done;
    const started = Date.now();
    const next = cli(["apply", A, "--netns", ns, "--wait", "2s"]);
    expect(next.code, next.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(cli(["plan", A, "--netns", ns, "--exit-code"]).code).toBe(0);
    expect(cli(["destroy", "--netns", ns]).code).toBe(0);
    expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(pristine);
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`${signal} in the middle of an apply rolls back before exiting (exit 3, kernel as before)`, async () => {
      expect(cli(["apply", B, "--netns", ns]).code).toBe(0);
      const before = await kernelSnapshot(lab, "h", RP_KEYS);
      const run = cliAsync(["apply", A, "--netns", ns], { SYMROUTE_FAULT: "pause-before:ip4" });
      await run.printed("paused before ip4");
      run.child.kill(signal);
      const r = await run.done;
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain(`interrupted by ${signal}`);
      expect(r.stderr).toContain("rolled back: the kernel is as it was before");
      expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(before);
      expect(readState(ns).applied?.file).toBe(B);
      expect(readState(ns).journal).toBeNull();
      expect(cli(["destroy", "--netns", ns]).code).toBe(0);
    });
  }

  describe("the confirm timer belongs to the state", () => {
    it("a later apply confirms a pending change: its revert never undoes the later apply", async () => {
      const first = cli(["apply", A, "--netns", ns, "--confirm-timeout", "2s"]);
      expect(first.code, first.stderr).toBe(0);
      const second = cli(["apply", B, "--netns", ns]);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stderr).toContain("is confirmed by this apply");
      await new Promise((r) => setTimeout(r, 3000));
      expect(cli(["plan", B, "--netns", ns, "--exit-code"]).code).toBe(0);
      expect(readState(ns).pending).toBeNull();
      expect(cli(["destroy", "--netns", ns]).code).toBe(0);
    });

    it("with two overlapping timers, the second revert puts back exactly the state before the second apply", async () => {
      expect(cli(["apply", A, "--netns", ns, "--confirm-timeout", "2s"]).code).toBe(0);
      const afterA = await kernelSnapshot(lab, "h", RP_KEYS);
      const stateA = readState(ns);
      expect(cli(["apply", B, "--netns", ns, "--confirm-timeout", "2s"]).code).toBe(0);
      expect(await kernelSnapshot(lab, "h", RP_KEYS)).not.toBe(afterA);
      await new Promise((r) => setTimeout(r, 3500));
      expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(afterA);
      const reverted = readState(ns);
      expect(reverted.pending).toBeNull();
      expect(reverted.applied?.file).toBe(A);
      expect(reverted.sysctlOriginals).toEqual(stateA.sysctlOriginals);
      expect(cli(["plan", A, "--netns", ns, "--exit-code"]).code).toBe(0);
      expect(cli(["destroy", "--netns", ns]).code).toBe(0);
      expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(pristine);
    });

    it("destroy cancels a pending revert; nothing comes back after the deadline", async () => {
      expect(cli(["apply", B, "--netns", ns, "--confirm-timeout", "2s"]).code).toBe(0);
      const d = cli(["destroy", "--netns", ns]);
      expect(d.code).toBe(0);
      expect(d.stderr).toContain("cancelled by this destroy");
      await new Promise((r) => setTimeout(r, 3000));
      expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(pristine);
      expect(cli(["status", "--netns", ns]).stdout).toContain("Nothing applied.");
    });
  });
});
