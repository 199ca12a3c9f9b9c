/**
 * Failover benchmark (issue 11), on seed 004's lab with the daemon in-process,
 * both uplinks checked (gateway and 100.100.0.1, every 200 ms, down 4, up 5,
 * hold 1s) and the LAN's new connections shared between them:
 *  1. detection (cut to isp1 marked down) and failover (cut to the first new
 *     connection that succeeds after the last one that failed: attempts every
 *     20 ms, 200 ms timeout), p50/p95 over 20 cuts of isp1 (an nft drop of
 *     everything from the host); isp1 restored between cuts and waited up;
 *  2. transfers on the healthy uplink (isp2) broken by those failovers (a line
 *     every 100 ms each, echoed; broken = reset or restarted or silent), goal 0;
 *  3. flaps: isp1's transitions under 20% random loss (nft numgen random mod
 *     10 < 2 drop) for FAILOVER_FLAP_S seconds (default 300), goal 0;
 *  4. shares of 10,000 new UDP connections with weights 3:1, goal 75/25 within 2%;
 *  5. probe cost: ICMP echo requests per second from the host arriving at each ISP.
 * Needs root and a built CLI; its lab's namespaces (srbf*) are removed at the
 * end and on failure. Run with `tsx bench/failover.ts`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab } from "../src/lab/lab.js";
import { UPLINKS } from "../src/lab/uplinks.js";
import { Daemon } from "../src/daemon/daemon.js";
import { destroyIn, loader, until } from "../src/lab/story.js";
import {
  buildFailoverLab, cut, failoverConfig, failoverPoint, FAILOVER_TARGET, LanDriver, restore, uplinkByPort,
} from "../src/lab/failoverStory.js";

const CUTS = Number(process.env.FAILOVER_CUTS ?? 20);
const FLAP_S = Number(process.env.FAILOVER_FLAP_S ?? 300);
const PROBE_S = 10;
const UDP_PORT = 9999;
const work = mkdtempSync(join(tmpdir(), "symroute-bf-"));
process.env.SYMROUTE_STATE_DIR ??= join(work, "state");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends `per` datagrams from each of `count` sockets bound to consecutive source ports: one connection each. */
const SENDER = `
const dgram = require("node:dgram");
const [dst, first, count, per] = process.argv.slice(1);
const one = (port) => new Promise((resolve, reject) => {
  const s = dgram.createSocket("udp4");
  s.on("error", reject);
  s.bind(port, async () => {
    for (let k = 0; k < Number(per); k++) await new Promise((ok, ko) => s.send("x", ${UDP_PORT}, dst, (e) => (e ? ko(e) : ok())));
    s.close();
    resolve();
  });
});
(async () => {
  const n = Number(count), f = Number(first);
  for (let i = 0; i < n; i += 250) await Promise.all(Array.from({ length: Math.min(250, n - i) }, (_, j) => one(f + i + j)));
})().catch((e) => { console.error(e); process.exit(1); });
`;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
}

/** Packets counted per chain of a table in a host. */
async function chainCounters(lab: Lab, host: string, table: string): Promise<Record<string, number>> {
  const r = await lab.exec(host, ["nft", "-j", "list", "table", "inet", table]);
  const out: Record<string, number> = {};
  for (const o of (JSON.parse(r.stdout) as { nftables: { rule?: { chain: string; expr: { counter?: { packets: number } }[] } }[] }).nftables) {
    if (!o.rule) continue;
    for (const e of o.rule.expr) if (e.counter) out[o.rule.chain] = (out[o.rule.chain] ?? 0) + e.counter.packets;
  }
  return out;
}

async function main(): Promise<void> {
  const lab = new Lab("bf");
  const onSignal = () => void lab.teardown().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let daemon: Daemon | null = null;
  let lan: LanDriver | null = null;
  const rows: [string, string, string][] = [];
  try {
    console.log(`building ${lab.prefix}-*`);
    await buildFailoverLab(lab);
    // what the probes cost: echo requests from the host's address at each ISP
    for (const [isp, own] of [["isp1", UPLINKS.host.isp1.v4], ["isp2", UPLINKS.host.isp2.v4]] as const)
      await lab.nft(isp, [
        { add: { table: { family: "inet", name: "probes" } } },
        { add: { chain: { family: "inet", table: "probes", name: "icmp", type: "filter", hook: "prerouting", prio: -500, policy: "accept" } } },
        {
          add: {
            rule: {
              family: "inet", table: "probes", chain: "icmp",
              expr: [
                { match: { op: "==", left: { payload: { protocol: "ip", field: "saddr" } }, right: own } },
                { match: { op: "==", left: { payload: { protocol: "icmp", field: "type" } }, right: "echo-request" } },
                { counter: null },
              ],
            },
          },
        },
      ]);
    const start = (text: string) => {
      const d = new Daemon({ netns: lab.ns("host"), load: loader(text, "failover.yaml"), reconcileIntervalMs: 30_000, debounceMs: 20 });
      return d;
    };
    daemon = start(failoverConfig({ hold: "1s" }));
    let transitions = 0;
    daemon.on("uplink", () => (transitions += 1));
    await daemon.start();
    const bothUp = () => daemon!.uplinkHealth().length === 2 && daemon!.uplinkHealth().every((u) => u.state === "up") && daemon!.snapshot().uplinksDown.length === 0;
    if ((await until(bothUp, 10_000, 20)) === null) throw new Error("uplinks not up");

    // 5. probe cost
    const probeCount = async () => [await lab.counted("isp1", "inet", "probes"), await lab.counted("isp2", "inet", "probes")];
    const p0 = await probeCount();
    await sleep(PROBE_S * 1000);
    const p1 = await probeCount();
    const pps = p1.map((v, i) => (v - p0[i]) / PROBE_S);
    console.log(`probe cost: ${pps[0].toFixed(1)} / ${pps[1].toFixed(1)} echo requests per second at isp1 / isp2 (2 targets each, every 200 ms)`);

    // 1, 2. cuts
    lan = new LanDriver(lab);
    for (let i = 0; i < 8; i++) lan.send("open");
    const detect: number[] = [];
    const failover: number[] = [];
    const back: number[] = [];
    let healthy = 0;
    let broken = 0;
    let st = await lan.status();
    for (let k = 0; k < CUTS; k++) {
      // a fresh draw of every transfer; wait until all echo
      if (k > 0) for (const c of st.conns) lan.send(`restart ${c.id}`);
      await until(async () => {
        st = await lan!.status();
        return st.conns.every((c) => c.echoedNow >= 3 && c.port > 0);
      }, 5000, 50);
      const where = await uplinkByPort(lab);
      const on2 = st.conns.filter((c) => where.get(c.port) === "isp2").map((c) => c.id);
      const before = new Map(st.conns.map((c) => [c.id, { echoed: c.echoed, restarts: c.restarts }]));
      lan.send("probe");
      await sleep(100);
      const t0 = Date.now();
      await cut(lab, "isp1");
      const d = await until(() => daemon!.snapshot().uplinksDown.includes("isp1"), 5000, 2);
      await sleep(800);
      lan.send("stop");
      st = await lan.status();
      const fp = failoverPoint(st.attempts, t0);
      const bad = on2.filter((id) => {
        const c = st.conns[id];
        return c.closed || c.restarts !== before.get(id)!.restarts || c.echoed <= before.get(id)!.echoed || st.now - c.lastEcho > 500;
      });
      healthy += on2.length;
      broken += bad.length;
      if (d !== null) detect.push(d);
      if (fp.ms !== null) failover.push(fp.ms);
      await restore(lab, "isp1");
      const b = await until(bothUp, 10_000, 10);
      if (b !== null) back.push(b);
      await sleep(500); // the reconcile that puts isp1 back in the draw
      console.log(`cut ${k + 1}: down ${d ?? "-"} ms, failover ${fp.ms ?? "-"} ms (${fp.failed} attempts failed), isp2 transfers ${on2.length} (${bad.length} broken), back ${b ?? "-"} ms after restore`);
    }
    lan.stop();
    lan = null;

    // 3. flaps under 20% loss on isp1
    const t = transitions;
    await cut(lab, "isp1", 2);
    console.log(`flaps: 20% random loss on isp1 for ${FLAP_S} s ...`);
    await sleep(FLAP_S * 1000);
    const flaps = transitions - t;
    const loss = daemon.uplinkHealth().find((u) => u.name === "isp1");
    await restore(lab, "isp1");
    console.log(`flaps: ${flaps} transitions of isp1 (isp1's probe loss over the window: ${loss ? ((loss.probeLoss ?? 0) * 100).toFixed(1) : "?"}%)`);
    await until(bothUp, 10_000, 10);

    // 4. shares at 3:1
    await daemon.stop();
    daemon = start(failoverConfig({ weights: [3, 1], hold: "1s" }));
    await daemon.start();
    await until(bothUp, 10_000, 20);
    const c0 = await chainCounters(lab, "host", "symroute");
    await lab.exec("lan", [process.execPath, "-e", SENDER, FAILOVER_TARGET, "20000", "10000", "2"]);
    const c1 = await chainCounters(lab, "host", "symroute");
    const n1 = (c1.outbound_lan_isp1 ?? 0) - (c0.outbound_lan_isp1 ?? 0);
    const n2 = (c1.outbound_lan_isp2 ?? 0) - (c0.outbound_lan_isp2 ?? 0);
    const share1 = (n1 / (n1 + n2)) * 100;

    rows.push(["detection: cut to isp1 marked down", `p50 ${pct(detect, 50)} ms, p95 ${pct(detect, 95)} ms (${detect.length}/${CUTS})`, "-"]);
    rows.push(["failover: cut to new connections all succeeding", `p50 ${pct(failover, 50)} ms, p95 ${pct(failover, 95)} ms (${failover.length}/${CUTS})`, "-"]);
    rows.push(["recovery: restore to isp1 up (hold 1s)", `p50 ${pct(back, 50)} ms, p95 ${pct(back, 95)} ms`, "-"]);
    rows.push(["healthy-uplink transfers broken by failovers", `${broken} of ${healthy}`, broken === 0 ? "0 (met)" : "0 (NOT met)"]);
    rows.push([`flaps under 20% loss on isp1, ${FLAP_S} s`, String(flaps), flaps === 0 ? "0 (met)" : "0 (NOT met)"]);
    rows.push(["shares of 10,000 new connections at 3:1", `${share1.toFixed(2)}% / ${(100 - share1).toFixed(2)}% (${n1} + ${n2})`, Math.abs(share1 - 75) <= 2 && n1 + n2 === 10000 ? "75/25 ±2 (met)" : "75/25 ±2 (NOT met)"]);
    rows.push(["probe cost (echo requests/s per uplink)", `isp1 ${pps[0].toFixed(1)}, isp2 ${pps[1].toFixed(1)}`, "-"]);
  } finally {
    lan?.stop();
    await daemon?.stop();
    await destroyIn(lab, "host").catch(() => undefined);
    await lab.teardown();
    rmSync(work, { recursive: true, force: true });
  }
  const w = [0, 1, 2].map((i) => Math.max(...[["measure", "result", "goal"], ...rows].map((r) => r[i].length)));
  console.log("");
  for (const r of [["measure", "result", "goal"] as [string, string, string], ...rows]) console.log(r.map((c, i) => c.padEnd(w[i])).join("  "));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
