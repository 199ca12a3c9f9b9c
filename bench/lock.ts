/**
 * What the one-writer lock costs an apply, measured side by side in one run:
 * the engine's reconcile (flock child, state read under it) against the same
 * work without the lock (state read, compile, applyDesired), alternated, for
 * a no-change apply (the daemon's common case) and a changing one. Also the
 * lock alone (acquire + release). Needs root. Run with `npm run bench`.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab } from "../src/lab/lab.js";
import { loadConfigText } from "../src/config/load.js";
import { reconcile, compileForHost } from "../src/engine/index.js";
import { startReads, rpFilterKeys } from "../src/engine/reads.js";
import { applyDesired } from "../src/apply/apply.js";
import { readState, statePath, writeState } from "../src/kernel/state.js";
import { acquireLock } from "../src/kernel/lock.js";
import { ProcessRunner } from "../src/kernel/runner.js";
import type { ResolvedConfig } from "../src/config/resolved.js";

process.env.SYMROUTE_STATE_DIR = mkdtempSync(join(tmpdir(), "symroute-bench-lock-"));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 25);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function config(withService: boolean): ResolvedConfig {
  const text = `version: 1
uplinks:
  - { name: isp1, interface: eth1, gateway: 203.0.113.1, gateway6: "2001:db8:1::1" }
  - { name: isp2, interface: eth2, gateway: 192.0.2.1, gateway6: "2001:db8:2::1" }
${withService ? "services:\n  - { name: web, addresses: [198.51.100.80], uplink: isp2, strategy: mark }\n" : ""}`;
  const r = loadConfigText(text, "bench.yaml");
  if (!r.ok) throw new Error("bench config");
  return r.value;
}

/** The same work as reconcile, without the lock. */
async function unlocked(netns: string, resolved: ResolvedConfig): Promise<void> {
  const runner = new ProcessRunner(netns);
  const reads = startReads(runner);
  const state = readState(netns);
  const compiled = compileForHost(resolved, await reads.facts, state);
  await applyDesired({ runner, desired: compiled.desired, priorities: resolved.priorities, state, save: (s) => writeState(s, netns), prefetched: reads.objects, knownSysctls: rpFilterKeys(compiled.facts) });
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const lab = new Lab("bl");
try {
  await lab.addHosts("h", "peer");
  await lab.link("h", "eth1", "peer", "p1");
  await lab.link("h", "eth2", "peer", "p2");
  await lab.addr("h", "eth1", "203.0.113.8/24", "2001:db8:1::8/64");
  await lab.addr("h", "eth2", "192.0.2.31/24", "2001:db8:2::31/64");
  const netns = lab.ns("h");
  const a = config(true);
  const b = config(false);
  await reconcile({ netns, load: () => a });
  const t = { lockedSame: [] as number[], unlockedSame: [] as number[], lockedChange: [] as number[], unlockedChange: [] as number[], lockOnly: [] as number[] };
  for (let i = 0; i < ROUNDS; i++) {
    // which goes first alternates, so neither always follows a change
    if (i % 2) {
      t.lockedSame.push(await time(() => reconcile({ netns, load: () => a })));
      t.unlockedSame.push(await time(() => unlocked(netns, a)));
    } else {
      t.unlockedSame.push(await time(() => unlocked(netns, a)));
      t.lockedSame.push(await time(() => reconcile({ netns, load: () => a })));
    }
    // a change each way: to b and back to a
    t.lockedChange.push(await time(() => reconcile({ netns, load: () => (i % 2 ? a : b) })));
    t.unlockedChange.push(await time(() => unlocked(netns, i % 2 ? b : a)));
    t.lockOnly.push(await time(async () => (await acquireLock(statePath(netns), { waitMs: 1000, command: "bench" })).release()));
  }
  const row = (name: string, locked: number[], plain: number[]) =>
    `${name.padEnd(22)} with lock ${median(locked).toFixed(1).padStart(6)} ms   without ${median(plain).toFixed(1).padStart(6)} ms   ratio ${(median(locked) / median(plain)).toFixed(3)}`;
  console.log(`lock cost (medians of ${ROUNDS} alternated rounds, in-process, 2 uplinks + 1 service)`);
  console.log(row("no-change apply", t.lockedSame, t.unlockedSame));
  console.log(row("changing apply", t.lockedChange, t.unlockedChange));
  console.log(`lock alone (acquire + release): ${median(t.lockOnly).toFixed(1)} ms`);
} finally {
  await lab.teardown();
}
