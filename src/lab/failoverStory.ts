/**
 * `symroute lab failover` (issue 11): seed 004's host shares the LAN's new
 * connections 1:1 over isp1 and isp2, run by the daemon in-process with health
 * checks on both. Long transfers from the LAN echo over both uplinks; isp1
 * then silently drops everything from the host. The lab prints the time to the
 * failover, that isp2's transfers never noticed, that isp1's stopped and,
 * restarted, succeed by isp2; then isp1 answers again and comes back after the
 * hold time, and new connections use it again.
 */
import type { Lab } from "./lab.js";
import type { Say } from "./story.js";
import { destroyIn, loader, sleep, until } from "./story.js";
import { ScriptDriver } from "./driver.js";
import { buildUplinks, UPLINKS } from "./uplinks.js";
import { Daemon } from "../daemon/daemon.js";

/** An address both ISPs answer for, with an echo server behind each. */
export const FAILOVER_TARGET = "100.100.0.1";
export const FAILOVER_PORT = 9998;

/** The config: both uplinks checked, the LAN's connections shared by weight (or tier). */
export function failoverConfig(opts: { weights?: [number, number]; tiers?: [number, number]; hold?: string } = {}): string {
  const [w1, w2] = opts.weights ?? [1, 1];
  const [t1, t2] = opts.tiers ?? [1, 1];
  const hold = opts.hold ?? "3s";
  return `version: 1
uplinks:
  - name: isp1
    interface: eth1
    gateway: 203.0.113.1
    weight: ${w1}
    tier: ${t1}
    check: { targets: [203.0.113.1, ${FAILOVER_TARGET}], hold: ${hold} }
  - name: isp2
    interface: eth2
    gateway: 192.0.2.1
    weight: ${w2}
    tier: ${t2}
    check: { targets: [192.0.2.1, ${FAILOVER_TARGET}], hold: ${hold} }
outbound:
  - name: lan
    from: [10.10.0.0/24]
daemon:
  metrics: "off"
`;
}

/** Seed 004 plus the address both ISPs answer for, with a line echo server on each. */
export async function buildFailoverLab(lab: Lab): Promise<void> {
  await buildUplinks(lab);
  for (const isp of ["isp1", "isp2"]) {
    await lab.addr(isp, "lo", `${FAILOVER_TARGET}/32`);
    lab.background(isp, ["socat", `TCP-LISTEN:${FAILOVER_PORT},bind=${FAILOVER_TARGET},fork,reuseaddr`, "EXEC:cat"]);
  }
}

/** isp1 (or another ISP) silently drops everything arriving from the host; its link stays up. */
export async function cut(lab: Lab, isp: string, loss?: number): Promise<void> {
  const cond = loss === undefined ? [] : [{ match: { op: "<", left: { numgen: { mode: "random", mod: 10 } }, right: loss } }];
  await lab.nft(isp, [
    { add: { table: { family: "inet", name: "cut" } } },
    { add: { chain: { family: "inet", table: "cut", name: "in", type: "filter", hook: "prerouting", prio: -400, policy: "accept" } } },
    { add: { rule: { family: "inet", table: "cut", chain: "in", expr: [{ match: { op: "==", left: { meta: { key: "iifname" } }, right: "tohost" } }, ...cond, { drop: null }] } } },
  ]);
}

/** Undoes `cut`. */
export async function restore(lab: Lab, isp: string): Promise<void> {
  await lab.exec(isp, ["nft", "delete", "table", "inet", "cut"], undefined, true);
}

/**
 * The LAN's traffic, a node process in the lan namespace driven by lines on
 * stdin: `open` a transfer (a line every 100 ms, echoes counted), `restart I`,
 * `probe` (a new connection attempt every 20 ms, 200 ms timeout, until `stop`),
 * `status` (one JSON line back).
 */
const DRIVER = `
const net = require("node:net");
const [dst, port] = process.argv.slice(1);
const conns = [];
let attempts = [];
let prober = null;
function open(id) {
  const c = conns[id] ?? (conns[id] = { id, echoed: 0, echoedNow: 0, lastEcho: 0, restarts: -1, closed: false, port: 0 });
  c.restarts++; c.closed = false; c.echoedNow = 0; c.port = 0;
  const s = net.connect({ host: dst, port: Number(port) });
  c.sock = s;
  let buf = "";
  s.on("connect", () => { c.port = s.localPort; });
  s.on("data", (d) => { buf += d; const n = buf.split("\\n").length - 1; buf = buf.slice(buf.lastIndexOf("\\n") + 1); c.echoed += n; c.echoedNow += n; if (n) c.lastEcho = Date.now(); });
  s.on("error", () => {});
  s.on("close", () => { if (c.sock === s) c.closed = true; });
  const t = setInterval(() => { if (c.sock !== s || s.destroyed) return clearInterval(t); if (s.readyState === "open") s.write("x\\n"); }, 100);
}
function attempt() {
  const a = { start: Date.now(), end: 0, ok: false };
  attempts.push(a);
  const s = net.connect({ host: dst, port: Number(port) });
  const done = (ok) => { if (a.end) return; a.end = Date.now(); a.ok = ok; s.destroy(); };
  const t = setTimeout(() => done(false), 200);
  s.on("connect", () => { clearTimeout(t); done(true); });
  s.on("error", () => { clearTimeout(t); done(false); });
}
let rest = "";
process.stdin.on("data", (d) => {
  rest += d;
  const lines = rest.split("\\n");
  rest = lines.pop();
  for (const line of lines) {
    const [cmd, arg] = line.trim().split(" ");
    if (cmd === "open") open(conns.length);
    else if (cmd === "restart") { const c = conns[Number(arg)]; c.sock.destroy(); open(c.id); }
    else if (cmd === "probe") { attempts = []; clearInterval(prober); attempt(); prober = setInterval(attempt, 20); }
    else if (cmd === "stop") { clearInterval(prober); prober = null; }
    else if (cmd === "status") process.stdout.write(JSON.stringify({ now: Date.now(), conns: conns.map(({ sock, ...c }) => c), attempts: attempts.filter((a) => a.end) }) + "\\n");
    else if (cmd === "quit") process.exit(0);
  }
});
process.stdin.on("end", () => process.exit(0));
`;

export interface Transfer {
  id: number;
  echoed: number;
  echoedNow: number;
  lastEcho: number;
  restarts: number;
  closed: boolean;
  port: number;
}
export interface Attempt {
  start: number;
  end: number;
  ok: boolean;
}
export interface DriverStatus {
  now: number;
  conns: Transfer[];
  attempts: Attempt[];
}

/** The LAN client: transfers and connection attempts to the target. */
export class LanDriver extends ScriptDriver<DriverStatus> {
  constructor(lab: Lab) {
    super(lab, "lan", DRIVER, [FAILOVER_TARGET, String(FAILOVER_PORT)]);
  }
}

/** The uplink of each LAN connection to the target, by LAN source port: the reply's destination in the host's conntrack. */
export async function uplinkByPort(lab: Lab): Promise<Map<number, "isp1" | "isp2">> {
  const r = await lab.exec("host", ["conntrack", "-L", "-p", "tcp", "--dport", String(FAILOVER_PORT)], undefined, true);
  const out = new Map<number, "isp1" | "isp2">();
  for (const line of r.stdout.split("\n")) {
    const sport = /sport=(\d+)/.exec(line);
    const dsts = [...line.matchAll(/dst=(\S+)/g)].map((m) => m[1]);
    if (!sport || dsts.length < 2) continue;
    if (dsts[1] === UPLINKS.host.isp1.v4) out.set(Number(sport[1]), "isp1");
    else if (dsts[1] === UPLINKS.host.isp2.v4) out.set(Number(sport[1]), "isp2");
  }
  return out;
}

/**
 * From attempts started after `t0`: the end of the first successful one after
 * the last failed one, relative to `t0` (null if none succeeded after it), and
 * the count of successes in that final run.
 */
export function failoverPoint(attempts: Attempt[], t0: number): { ms: number | null; run: number; failed: number } {
  const after = attempts.filter((a) => a.start >= t0).sort((a, b) => a.start - b.start);
  let last = -1;
  after.forEach((a, i) => {
    if (!a.ok) last = i;
  });
  const run = after.slice(last + 1);
  const first = run.length ? run.reduce((m, a) => (a.end < m.end ? a : m)) : null;
  return { ms: first ? first.end - t0 : null, run: run.length, failed: after.filter((a) => !a.ok).length };
}

/** Runs the story; true when the failover, the untouched transfers, the restarts and the recovery all held. */
export async function failoverStory(lab: Lab, say: Say): Promise<boolean> {
  say("== failover: the LAN shared 1:1 over two ISPs, one falls silent, connections move to the other ==");
  say(`building namespaces ${lab.prefix}-{host,isp1,isp2,client1,client2,lan}`);
  await buildFailoverLab(lab);
  const daemon = new Daemon({ netns: lab.ns("host"), load: loader(failoverConfig(), "failover.yaml"), reconcileIntervalMs: 30_000, debounceMs: 20 });
  const lan = new LanDriver(lab);
  let held = true;
  const check = (ok: boolean, line: string) => {
    say(`  ${ok ? "OK  " : "FAIL"}  ${line}`);
    held &&= ok;
  };
  try {
    say(`symroute run (in-process, in ${lab.ns("host")}): isp1 and isp2 weight 1:1 in tier 1, checked on their gateway and ${FAILOVER_TARGET} every 200 ms, hold 3s; outbound from 10.10.0.0/24`);
    const first = await daemon.start();
    say(`  first apply: ${first.error ?? first.summary ?? "no changes"} (${first.durationMs} ms)`);
    const upMs = await until(() => daemon.uplinkHealth().length === 2 && daemon.uplinkHealth().every((u) => u.state === "up"), 5000, 20);
    check(upMs !== null, `both uplinks up by their health checks${upMs === null ? "" : ` after ${upMs} ms`}`);

    // 8 transfers, at least 2 on each uplink (more opened if the draw was lopsided)
    for (let i = 0; i < 8; i++) lan.send("open");
    let where = new Map<number, "isp1" | "isp2">();
    let st = await lan.status();
    const settle = async () =>
      (await until(async () => {
        st = await lan.status();
        return st.conns.every((c) => c.echoedNow >= 3 && c.port > 0);
      }, 5000, 50)) !== null;
    for (let extra = 0; ; extra++) {
      if (!(await settle())) break;
      where = await uplinkByPort(lab);
      const n = (isp: string) => st.conns.filter((c) => where.get(c.port) === isp).length;
      if ((n("isp1") >= 2 && n("isp2") >= 2) || extra >= 8) break;
      lan.send("open");
    }
    const on = (isp: string) => st.conns.filter((c) => where.get(c.port) === isp);
    const by1 = on("isp1").map((c) => c.id);
    const by2 = on("isp2").map((c) => c.id);
    say(`LAN client ${UPLINKS.lanServer.v4}: ${st.conns.length} transfers to ${FAILOVER_TARGET}:${FAILOVER_PORT}, a line every 100 ms each, echoed`);
    check(by1.length >= 1 && by2.length >= 1 && by1.length + by2.length === st.conns.length, `by conntrack in the host: ${by1.length} by isp1 (#${by1.join(", #")}), ${by2.length} by isp2 (#${by2.join(", #")})`);

    // the cut
    const before = new Map(st.conns.map((c) => [c.id, c.echoed]));
    lan.send("probe");
    await sleep(100);
    say("isp1 falls silent: nft drop of everything arriving from the host on its tohost (the link stays up)");
    const t0 = Date.now();
    await cut(lab, "isp1");
    const downMs = await until(() => daemon.snapshot().uplinksDown.includes("isp1"), 5000, 5);
    await sleep(1000);
    lan.send("stop");
    st = await lan.status();
    const fp = failoverPoint(st.attempts, t0);
    check(downMs !== null, `isp1 marked down ${downMs ?? "(not within 5000)"} ms after the cut`);
    check(fp.ms !== null && fp.run >= 20, `new connections: ${fp.failed} drawn to isp1 failed; from ${fp.ms ?? "?"} ms after the cut every one succeeded by isp2 (${fp.run} of ${fp.run})`);
    const fo = daemon.snapshot().failovers.find((f) => f.uplink === "isp1" && f.to === "down");
    say(`  the daemon deleted ${fo?.connectionsDeleted ?? "no"} of isp1's connections from conntrack`);

    const grew = (id: number) => st.conns[id].echoed > (before.get(id) ?? 0) + 5 && st.conns[id].restarts === 0 && !st.conns[id].closed && st.now - st.conns[id].lastEcho < 500;
    check(by2.every(grew), `isp2's ${by2.length} transfers untouched: still echoing, none restarted (${by2.map((id) => `#${id} ${st.conns[id].echoed - before.get(id)!} more lines`).join(", ")})`);
    const stopped = (id: number) => st.conns[id].closed || st.now - st.conns[id].lastEcho > 700;
    check(by1.every(stopped), `isp1's ${by1.length} transfers stopped (${by1.map((id) => `#${id} ${st.conns[id].closed ? "reset" : "stalled"}`).join(", ")})`);
    for (const id of by1) lan.send(`restart ${id}`);
    const restartedOk = await until(async () => {
      st = await lan.status();
      return by1.every((id) => st.conns[id].echoedNow >= 3 && st.conns[id].port > 0);
    }, 3000, 50);
    where = await uplinkByPort(lab);
    check(restartedOk !== null && by1.every((id) => where.get(st.conns[id].port) === "isp2"), `restarted by the lab, they echo again, by isp2: ${by1.map((id) => `#${id} ${where.get(st.conns[id].port) ?? "?"}`).join(", ")}`);

    // isp1 answers again
    say("isp1 answers again (the drop removed)");
    const t1 = Date.now();
    await restore(lab, "isp1");
    const backMs = await until(() => !daemon.snapshot().uplinksDown.includes("isp1"), 10_000, 10);
    const downFor = backMs === null || downMs === null ? null : t1 + backMs - (t0 + downMs);
    check(backMs !== null && downFor !== null && downFor >= 2900, `isp1 back up ${backMs ?? "(not within 10000)"} ms after it answered again, ${downFor === null ? "?" : (downFor / 1000).toFixed(1)} s after it went down (hold 3s: up only once answered and down at least that long)`);
    const ports = new Set(st.conns.map((c) => c.port));
    const count1 = (m: Map<number, string>) => [...m].filter(([p, u]) => u === "isp1" && !ports.has(p)).length;
    const was = count1(await uplinkByPort(lab));
    lan.send("probe");
    await sleep(600);
    lan.send("stop");
    st = await lan.status();
    const now1 = count1(await uplinkByPort(lab)) - was;
    const oks = st.attempts.filter((a) => a.ok).length;
    check(now1 > 0 && oks === st.attempts.length, `new connections use isp1 again: ${now1} of ${st.attempts.length} by isp1, all succeeded`);
    const still = st.conns.every((c) => !c.closed && st.now - c.lastEcho < 500);
    check(still, `all ${st.conns.length} transfers still echo (the recovery moved none)`);
  } finally {
    lan.stop();
    await daemon.stop();
    say("symroute destroy: host back as it was");
    await destroyIn(lab, "host");
  }
  return held;
}
