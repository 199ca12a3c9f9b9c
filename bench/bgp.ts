/**
 * BGP benchmark (issue 13), on the scale-out lab with two frontends running
 * `symroute run` (each with its own BIRD 2) and the router's BIRD (eBGP, BFD
 * 100 ms x 3, ECMP):
 *  1. withdraw time: from a frontend's death (everything in and out of it
 *     dropped, then symroute and its BIRD SIGKILLed) to the router's kernel
 *     route without it, p50/p95 over BGP_KILLS kills (default 10); goal < 1 s;
 *     printed beside BFD's detection time (interval x multiplier);
 *  2. graceful withdraw: SIGTERM to the router's route without it, and to the
 *     daemon's exit, p50/p95 over BGP_TERMS stops (default 5), as a ratio to 1;
 *  3. announce time: `symroute run` started to the router's route with it.
 * Not part of `npm run bench` (about 40 s of namespaces). Needs root, bird2
 * and a built CLI. Run with `tsx bench/bgp.ts`; its namespaces (sbb*) are
 * removed at the end and on failure.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab } from "../src/lab/lab.js";
import { destroyIn } from "../src/lab/story.js";
import { buildScaleOut, darken, FrontendDaemon, relight, SCALE, untilNextHops } from "../src/lab/scaleOut.js";

const KILLS = Number(process.env.BGP_KILLS ?? 10);
const TERMS = Number(process.env.BGP_TERMS ?? 5);
const BFD_MS = 100;
process.env.SYMROUTE_STATE_DIR ??= join(mkdtempSync(join(tmpdir(), "symroute-bb-")), "state");

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const line = (what: string, xs: number[]) => `${what.padEnd(44)} p50 ${String(pct(xs, 50)).padStart(5)} ms  p95 ${String(pct(xs, 95)).padStart(5)} ms  (n=${xs.length}, max ${Math.max(...xs)})`;

const lab = new Lab("b", "sb");
const cleanup = () => void lab.teardown().then(() => process.exit(130));
process.once("SIGINT", cleanup);
try {
  const scale = await buildScaleOut(lab, 2, BFD_MS);
  const hop = SCALE.frontends[0].up;
  const fe2 = new FrontendDaemon(lab, "fe2", 2, scale.dir);
  let current: FrontendDaemon | null = null;
  const start = async () => {
    const t0 = Date.now();
    const d = new FrontendDaemon(lab, "fe1", 1, scale.dir);
    current = d;
    const ms = await untilNextHops(lab, (h) => h.includes(hop) && h.length === 2, 20_000, t0);
    if (ms === null) throw new Error(`fe1 not announced within 20 s:\n${d.output().slice(-2000)}`);
    return { d, ms };
  };
  const announce: number[] = [];
  const withdraw: number[] = [];
  for (let i = 0; i < KILLS; i++) {
    const { ms } = await start();
    announce.push(ms);
    const t0 = Date.now();
    await darken(lab, "fe1");
    await current!.kill("SIGKILL");
    const w = await untilNextHops(lab, (h) => !h.includes(hop), 10_000, t0);
    if (w === null) throw new Error("fe1 not withdrawn within 10 s");
    withdraw.push(w);
    await destroyIn(lab, "fe1");
    await relight(lab, "fe1");
    process.stderr.write(`kill ${i + 1}/${KILLS}: withdrawn after ${w} ms\n`);
  }
  const graceful: number[] = [];
  const exit: number[] = [];
  for (let i = 0; i < TERMS; i++) {
    await start();
    const t0 = Date.now();
    const gone = untilNextHops(lab, (h) => !h.includes(hop), 10_000, t0);
    const stopped = current!.kill("SIGTERM").then(() => Date.now() - t0);
    const [g, e] = await Promise.all([gone, stopped]);
    if (g === null) throw new Error("fe1 not withdrawn on SIGTERM within 10 s");
    graceful.push(g);
    exit.push(e);
  }
  await fe2.kill("SIGTERM");
  const detect = 3 * BFD_MS;
  process.stdout.write(`\nBGP (symroute run + BIRD 2 on each frontend, router BIRD 2 with BFD ${BFD_MS} ms x 3, ECMP):\n`);
  process.stdout.write(line("frontend dies -> router route without it", withdraw) + `  goal < 1000; BFD detection ${detect} ms, ratio p50/detection ${(pct(withdraw, 50) / detect).toFixed(2)}\n`);
  process.stdout.write(line("SIGTERM -> router route without it", graceful) + `  ratio to death p50 ${(pct(graceful, 50) / pct(withdraw, 50)).toFixed(2)}\n`);
  process.stdout.write(line("SIGTERM -> daemon exited (withdraw, wait, stop)", exit) + "\n");
  process.stdout.write(line("symroute run -> router route with it", announce) + "\n");
} finally {
  await lab.teardown();
}
