/**
 * What TCP health checks cost in memory (issue 17, item 9), side by side in
 * one run: BP_TARGETS (256) targets checked by a TCP connect every 250 ms,
 * inside a namespace of the bench's own (hcbp*) against node listeners on
 * loopback, by
 *  - before: the prober of commit BEFORE (git show BEFORE:src/kernel/prober.ts),
 *    one long-lived node helper per target. Starting 256 of them (about 13 GB)
 *    would crowd a shared 2-core machine, so BP_OLD (32) are measured and the
 *    sum scaled to BP_TARGETS (say BP_OLD=256 to measure them all);
 *  - after: src/kernel/prober.ts with one CheckProber, measured at BP_TARGETS.
 * Each side settles BP_SETTLE_MS (5 s), then is sampled every 500 ms for
 * BP_SAMPLE_MS (5 s): RSS and PSS summed over every prober process (all
 * processes in the namespace but the listener; highest sample), CPU over the
 * sampling window, and the share of probes answered (every port listens).
 * Needs root and git. Run with `npx tsx bench/probers.ts`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Lab } from "../src/lab/lab.js";
import { CheckProber } from "../src/kernel/checkProber.js";
import { runProcess } from "../src/kernel/runner.js";
import { startUplinkProbes, type UplinkProbeOptions, type UplinkProbes, type UplinkRound } from "../src/kernel/prober.js";
import type { CheckSettings } from "../src/daemon/health.js";

const BEFORE = process.env.BP_BEFORE ?? "d29dad0";
const N = Number(process.env.BP_TARGETS ?? 256);
const OLD = Math.min(N, Number(process.env.BP_OLD ?? 32));
const SETTLE_MS = Number(process.env.BP_SETTLE_MS ?? 5000);
const SAMPLE_MS = Number(process.env.BP_SAMPLE_MS ?? 5000);
const BASE_PORT = 30000;
const CLK_TCK = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Start = (options: UplinkProbeOptions, onRound: (round: UplinkRound) => void) => UplinkProbes;

interface Measure {
  processes: number;
  rssKb: number;
  pssKb: number;
  cpuPct: number;
  answered: number;
  probes: number;
}

const settings = (port: number): CheckSettings => ({ targets: ["127.0.0.1"], method: { kind: "tcp", port }, intervalMs: 250, timeoutMs: 125, down: 3, up: 2, holdMs: 0 });

/** A number of kB from a /proc status-like file. */
const field = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+([0-9]+) kB`, "m").exec(text)?.[1] ?? 0);
/** A file of /proc, "" once the process is gone. */
const proc = (pid: number, file: string) => {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return "";
  }
};
const cpuTicks = (pid: number) => {
  const stat = proc(pid, "stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return stat ? Number(f[11]) + Number(f[12]) : 0;  // utime, stime (fields 14 and 15)
};

async function measure(lab: Lab, listener: number | undefined, start: Start, count: number, prober: CheckProber | undefined): Promise<Measure> {
  const ns = lab.ns("p");
  const running: UplinkProbes[] = [];
  let answered = 0;
  let probes = 0;
  let counting = false;
  for (let i = 0; i < count; i++)
    running.push(start({ netns: ns, uplink: `t${i}`, source4: "127.0.0.1", check: settings(BASE_PORT + i), ...(prober ? { prober } : {}) }, (r) => {
      if (!counting) return;
      probes += r.results.length;
      answered += r.results.filter((x) => x.ok).length;
    }));
  try {
    await sleep(SETTLE_MS);
    // asked from the host: `lab.exec` would run `ip netns pids` inside the namespace, where it counts itself
    const pids = (await runProcess(["ip", "netns", "pids", ns])).stdout.split("\n").map(Number).filter((p) => p > 0 && p !== listener);
    if (process.env.BP_DEBUG) console.log(pids.map((p) => `${p} ${proc(p, "cmdline").slice(0, 60)}`).join("\n"));
    const ticks0 = pids.map(cpuTicks);
    const t0 = performance.now();
    counting = true;
    let rssKb = 0;
    let pssKb = 0;
    for (let elapsed = 0; elapsed < SAMPLE_MS; elapsed += 500) {
      await sleep(500);
      let rss = 0;
      let pss = 0;
      for (const pid of pids) {
        rss += field(proc(pid, "status"), "VmRSS");
        pss += field(proc(pid, "smaps_rollup"), "Pss");
      }
      rssKb = Math.max(rssKb, rss);
      pssKb = Math.max(pssKb, pss);
    }
    counting = false;
    const ticks = pids.map(cpuTicks).reduce((a, b, i) => a + b - ticks0[i], 0);
    const cpuPct = (ticks / CLK_TCK / ((performance.now() - t0) / 1000)) * 100;
    return { processes: pids.length, rssKb, pssKb, cpuPct, answered, probes };
  } finally {
    await Promise.all(running.map((p) => p.stop()));
  }
}

const lab = new Lab("bp", "hc");
const work = mkdtempSync(join(tmpdir(), "symroute-bp-"));
try {
  await lab.addHosts("p");
  const ports = Array.from({ length: N }, (_, i) => BASE_PORT + i);
  const listener = lab.background("p", [process.execPath, "-e", `for (const p of ${JSON.stringify(ports)}) require("node:net").createServer((s) => s.destroy()).listen(p, "127.0.0.1");`]);
  await sleep(500);

  // the old prober, as it was: its only import is a type, so it runs from anywhere
  const oldFile = join(work, "prober.ts");
  writeFileSync(oldFile, execFileSync("git", ["show", `${BEFORE}:src/kernel/prober.ts`], { encoding: "utf8" }));
  const old = (await import(pathToFileURL(oldFile).href)) as { startUplinkProbes: Start };

  const before = await measure(lab, listener.pid, old.startUplinkProbes, OLD, undefined);
  const prober = new CheckProber(lab.ns("p"));
  const after = await measure(lab, listener.pid, startUplinkProbes, N, prober);
  await prober.stop();

  const scale = N / OLD;
  const mb = (kb: number) => (kb >= 1024 * 1024 ? `${(kb / 1024 / 1024).toFixed(2)} GB` : `${(kb / 1024).toFixed(1)} MB`);
  const row = (name: string, a: string, b: string) => console.log(`${name.padEnd(28)}${a.padEnd(44)}${b}`);
  console.log(`TCP checks of ${N} targets, every 250 ms (timeout 125 ms), in a namespace; one run, this machine`);
  row("", `before (${BEFORE}, a helper per target)`, "after (one prober process)");
  row("targets measured", `${OLD}${scale !== 1 ? ` (scaled x${scale.toFixed(2)} to ${N})` : ""}`, `${N}`);
  row("prober processes", `${before.processes}${scale !== 1 ? ` -> ${Math.round(before.processes * scale)}` : ""}`, `${after.processes}`);
  row(`RSS sum at ${N}`, `${mb(before.rssKb * scale)}${scale !== 1 ? ` (${mb(before.rssKb)} measured)` : ""}`, mb(after.rssKb));
  row(`PSS sum at ${N}`, `${mb(before.pssKb * scale)}`, mb(after.pssKb));
  row("RSS per target", mb(before.rssKb / OLD), mb(after.rssKb / N));
  row(`CPU at ${N} (% of a core)`, `${(before.cpuPct * scale).toFixed(1)}`, after.cpuPct.toFixed(1));
  row("probes answered", `${before.answered}/${before.probes}`, `${after.answered}/${after.probes}`);
  console.log(`RSS before/after: ${((before.rssKb * scale) / after.rssKb).toFixed(0)}x; goal: under 100 MB after (${after.rssKb < 100 * 1024 ? "met" : "NOT met"})`);
} finally {
  await lab.teardown();
  rmSync(work, { recursive: true, force: true });
}
