/**
 * Health probes that really leave by an uplink: the only place that spawns
 * probe processes. Every probe is sent FROM the uplink's own address, so the
 * policy rule `from <addr> lookup <table>` routes it by the uplink's table,
 * never by main; inside the namespace when one is given (`ip netns exec`).
 *
 * ICMP: one long-lived `ping -n -O -i INTERVAL -W TIMEOUT -I SOURCE TARGET`
 * per target (`-6` for IPv6), read line by line: a reply with its icmp_seq and
 * time, or `-O`'s "no answer yet for icmp_seq=N" when the next probe goes out.
 * A miss is final at that line when the timeout is at most the interval, and
 * `timeout - interval` later otherwise (a reply in between still counts).
 * TCP (`tcp:PORT`): one long-lived node helper per target connects from the
 * source address every interval and prints the same kind of lines.
 *
 * Results are grouped into rounds by sequence number (all pingers of an uplink
 * start together, so seq N of each target is one round); a round is handed
 * over when every live target has its result, or when another target is
 * already `lag` rounds ahead (the late one counts as a miss). A target that
 * cannot probe (no source address of its family, its process died) counts as a
 * miss with an error, and when no process is running the rounds go on by a
 * timer: an uplink that cannot send is down.
 *
 * Cost per uplink at the defaults: one process per target, 5 echo requests per
 * second per target (about 1 KB/s both ways for 2 targets).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { isIP } from "node:net";
import type { CheckSettings, ProbeResult, Round } from "../daemon/health.js";

/** The uplink's own addresses to send from; null or absent when it has none of that family. */
export interface ProbeSources {
  source4?: string | null;
  source6?: string | null;
}

export interface UplinkProbeOptions extends ProbeSources {
  /** run the probes inside this network namespace */
  netns?: string;
  /** the uplink's name, handed back with each round */
  uplink: string;
  check: CheckSettings;
  /** monotonic milliseconds; default performance.now() (give UplinkHealth the same clock) */
  now?: () => number;
  /** programs, for tests: default "ping" and this node */
  ping?: string;
  node?: string;
}

/** A round of one uplink's probes. */
export interface UplinkRound extends Round {
  uplink: string;
  /** the round's number since start (1, 2, ...) */
  seq: number;
}

/** Running probes of one uplink. */
export interface UplinkProbes {
  /** kills every probe process; no round is handed over after it resolves */
  stop(): Promise<void>;
  /** new source addresses (a DHCP renew): the probes of a changed family restart from the new address */
  retarget(sources: ProbeSources): void;
  /** probe processes running now */
  processes(): number;
}

/** The argv of one target's long-lived probe process (without the namespace wrapper). */
export function probeArgv(check: CheckSettings, target: string, source: string, programs: { ping?: string; node?: string } = {}): string[] {
  if (check.method.kind !== "icmp") {
    const method = check.method.kind === "tcp" ? String(check.method.port) : JSON.stringify(check.method);
    return [programs.node ?? process.execPath, "-e", PROBE_HELPER, target, method, source, String(check.intervalMs), String(check.timeoutMs)];
  }
  const seconds = (ms: number) => String(ms / 1000);
  return [programs.ping ?? "ping", ...(isIP(target) === 6 ? ["-6"] : ["-4"]), "-n", "-O", "-i", seconds(check.intervalMs), "-W", seconds(Math.max(check.timeoutMs, check.intervalMs)), "-I", source, target];
}

/**
 * The connecting prober, one process per target address: every INTERVAL ms a
 * probe from SOURCE to TARGET, given TIMEOUT ms, printing "connected tcp_seq=N
 * time=MS ms" or "failed tcp_seq=N REASON". METHOD is a port (a TCP connect: a
 * refused one is a miss, the check asks for the port) or the check's JSON: an
 * HTTP GET healthy on the expected status (the body read and dropped), or a
 * command (no shell, the target in its environment) healthy on exit 0. A probe
 * still going at its timeout is cut off (a command killed) and is a miss.
 */
const PROBE_HELPER = `
const [target, methodArg, source, interval, timeout] = process.argv.slice(1);
const m = /^[0-9]+$/.test(methodArg) ? { kind: "tcp", port: Number(methodArg) } : JSON.parse(methodArg);
const starters = {
  tcp(ok, fail) {
    const socket = require("node:net").connect({ host: target, port: m.port, localAddress: source });
    socket.on("connect", ok);
    socket.on("error", (e) => fail(e.code || e.message));
    return () => socket.destroy();
  },
  http(ok, fail) {
    const host = target.includes(":") ? "[" + target + "]" : target;
    const req = require("node:http").request({ host: target, port: m.port, path: m.path, method: "GET", localAddress: source, agent: false, headers: { host, "user-agent": "symroute-check" } });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === m.status ? ok() : fail("status " + res.statusCode)));
      res.on("error", (e) => fail(e.code || e.message));
    });
    req.on("error", (e) => fail(e.code || e.message));
    req.end();
    return () => req.destroy();
  },
  command(ok, fail) {
    const env = { PATH: process.env.PATH || "/usr/sbin:/usr/bin:/sbin:/bin", ...m.env, SYMROUTE_ADDRESS: target, SYMROUTE_SOURCE: source };
    const child = require("node:child_process").spawn(m.argv[0], m.argv.slice(1), { stdio: "ignore", env });
    child.on("error", (e) => fail(e.code || e.message));
    child.on("exit", (code, signal) => (code === 0 ? ok() : fail(signal ? "killed by " + signal : "exit " + code)));
    return () => { try { child.kill("SIGKILL"); } catch {} };
  },
};
let seq = 0;
// probes under way: stopped with this process, so no command outlives its check
const running = new Set();
process.on("SIGTERM", () => { for (const c of running) c(); process.exit(0); });
const probe = () => {
  const n = ++seq;
  const start = process.hrtime.bigint();
  let done = false;
  let cancel = () => {};
  const stopIt = () => cancel();
  running.add(stopIt);
  const finish = (line) => { if (done) return; done = true; running.delete(stopIt); clearTimeout(timer); cancel(); process.stdout.write(line + "\\n"); };
  const timer = setTimeout(() => finish("failed tcp_seq=" + n + " timeout"), Number(timeout));
  const ok = () => finish("connected tcp_seq=" + n + " time=" + (Number(process.hrtime.bigint() - start) / 1e6).toFixed(3) + " ms");
  const fail = (why) => finish("failed tcp_seq=" + n + " " + why);
  try { cancel = starters[m.kind](ok, fail); } catch (e) { fail(e.code || e.message); }
  if (done) cancel();
};
probe();
setInterval(probe, Number(interval));
process.stdout.on("error", () => process.exit(0));
`;

/** What a line of ping (or the TCP helper) says about one sequence number. */
export type ProbeLine = { seq: number; kind: "reply"; rttMs: number } | { seq: number; kind: "pending" } | { seq: number; kind: "failed"; error: string };

/** Parses one output line; null for headers and anything else. */
export function parseProbeLine(line: string): ProbeLine | null {
  const seqMatch = /(?:icmp|tcp)_seq=([0-9]+)/.exec(line);
  if (!seqMatch) return null;
  const seq = Number(seqMatch[1]);
  if (line.startsWith("no answer yet for")) return { seq, kind: "pending" };
  const time = /time[=<]([0-9.]+) ms/.exec(line);
  if (time && !line.startsWith("failed")) return { seq, kind: "reply", rttMs: Number(time[1]) };
  if (line.startsWith("failed")) return { seq, kind: "failed", error: line.slice(line.indexOf(seqMatch[0]) + seqMatch[0].length).trim() || "failed" };
  // "From 192.0.2.1 icmp_seq=3 Destination Host Unreachable" and the like
  const from = /icmp_seq=[0-9]+ (.*)$/.exec(line);
  return { seq, kind: "failed", error: from?.[1]?.trim() || line.trim() };
}

/** One target's long-lived probe process. */
interface Pinger {
  child: ChildProcess;
  source: string;
  /** round number of seq 0 */
  base: number;
  /** the highest seq seen, unwrapped (ping's icmp_seq is 16 bits) */
  lastSeq: number;
  seen: boolean;
  /** seqs shown "no answer yet" and waiting out the rest of the timeout */
  waiting: Map<number, NodeJS.Timeout>;
  stderr: string;
  exited: boolean;
  /** seqs with a result already */
  settled: Set<number>;
  /** a known send time: seq `anchorSeq` went out at `anchorAt` (timeout < interval: misses are timed from it) */
  anchorSeq: number;
  anchorAt: number | null;
  timer: NodeJS.Timeout | null;
}

const SEQ_SPACE = 65536;

/**
 * Starts the probes of one uplink; `onRound` gets every round in order. The
 * caller feeds them to an UplinkHealth built with the same `now`.
 */
export function startUplinkProbes(options: UplinkProbeOptions, onRound: (round: UplinkRound) => void): UplinkProbes {
  const check = options.check;
  const now = options.now ?? (() => performance.now());
  const targets = [...check.targets];
  const family = new Map(targets.map((t) => [t, isIP(t) === 6 ? 6 : 4] as const));
  const sources: { 4: string | null; 6: string | null } = { 4: options.source4 ?? null, 6: options.source6 ?? null };
  const pingers = new Map<string, Pinger>();
  /** why a target has no running process */
  const idle = new Map<string, string>();
  const restarts = new Map<string, NodeJS.Timeout>();
  const pending = new Map<number, Map<string, ProbeResult>>();
  /** the highest round each target has a result for */
  const latest = new Map<string, number>();
  const lag = Math.ceil(check.timeoutMs / check.intervalMs) + 2;
  let next = 1;
  let lastEmit = now();
  let stopped = false;

  const highest = () => Math.max(next - 1, ...latest.values());

  const emit = (seq: number, results: Map<string, ProbeResult>) => {
    pending.delete(seq);
    next = seq + 1;
    lastEmit = now();
    const round: UplinkRound = {
      uplink: options.uplink,
      seq,
      at: lastEmit,
      results: targets.map((t) => results.get(t) ?? { target: t, ok: false, rttMs: null, error: idle.get(t) ?? "no result" }),
    };
    onRound(round);
  };

  /** Hands over every round that is complete, or overtaken by `lag` rounds. */
  const flush = () => {
    while (!stopped) {
      const have = pending.get(next) ?? new Map<string, ProbeResult>();
      const live = targets.filter((t) => pingers.has(t));
      if (live.length === 0) return;
      const complete = live.every((t) => have.has(t));
      const overtaken = live.some((t) => (latest.get(t) ?? 0) >= next + lag);
      if (!complete && !overtaken) return;
      emit(next, have);
    }
  };

  const settle = (target: string, round: number, result: ProbeResult) => {
    if (stopped || round < next) return;  // late: its round already went as a miss
    let results = pending.get(round);
    if (!results) pending.set(round, (results = new Map()));
    if (results.has(target)) return;
    results.set(target, result);
    latest.set(target, Math.max(latest.get(target) ?? 0, round));
    flush();
  };

  const start = (target: string) => {
    const source = sources[family.get(target)!];
    if (!source) {
      idle.set(target, `no IPv${family.get(target)} source address`);
      return;
    }
    const argv = probeArgv(check, target, source, options);
    const full = options.netns ? ["ip", "netns", "exec", options.netns, ...argv] : argv;
    const child = spawn(full[0], full.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    const pinger: Pinger = { child, source, base: highest(), lastSeq: 0, seen: false, waiting: new Map(), stderr: "", exited: false, settled: new Set(), anchorSeq: 0, anchorAt: null, timer: null };
    const settleSeq = (seq: number, result: ProbeResult) => {
      if (pinger.settled.has(seq) || pingers.get(target) !== pinger) return;
      pinger.settled.add(seq);
      if (pinger.settled.size > 4 * lag + 16) for (const old of pinger.settled) if (old < seq - 2 * lag - 8) pinger.settled.delete(old);
      settle(target, pinger.base + seq, result);
    };
    /** timeout < interval: the first unanswered seq after the anchor is a miss `timeout` after it went out, before ping's next "no answer yet" */
    const arm = () => {
      if (check.timeoutMs >= check.intervalMs || pinger.anchorAt === null || pinger.exited || stopped) return;
      if (pinger.timer) clearTimeout(pinger.timer);
      let seq = pinger.anchorSeq;
      while (pinger.settled.has(seq)) seq += 1;
      const due = pinger.anchorAt + (seq - pinger.anchorSeq) * check.intervalMs + check.timeoutMs;
      pinger.timer = setTimeout(() => {
        pinger.timer = null;
        settleSeq(seq, { target, ok: false, rttMs: null, error: "no answer" });
        arm();
      }, Math.max(0, due - now()));
    };
    const anchor = (seq: number, at: number) => {
      if (pinger.anchorAt !== null && seq < pinger.anchorSeq) return;
      pinger.anchorSeq = seq;
      pinger.anchorAt = at;
    };
    pingers.set(target, pinger);
    idle.delete(target);
    child.on("error", (e) => {
      pinger.stderr += e.message;
      gone(target, pinger);
    });
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => {
      if (pinger.stderr.length < 2000) pinger.stderr += d;
    });
    child.on("exit", () => gone(target, pinger));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const parsed = parseProbeLine(line);
      if (!parsed || pingers.get(target) !== pinger) return;
      if (!pinger.seen) {
        // ping starts at 1; a helper that starts elsewhere still has its first seq in the next round
        pinger.seen = true;
        pinger.base -= parsed.seq - 1;
        pinger.lastSeq = parsed.seq;
      }
      // icmp_seq is 16 bits: 65535 is followed by 0; unwrapped as the value nearest the highest seen
      let seq = parsed.seq + Math.floor(pinger.lastSeq / SEQ_SPACE) * SEQ_SPACE;
      if (seq < pinger.lastSeq - SEQ_SPACE / 2) seq += SEQ_SPACE;
      else if (seq > pinger.lastSeq + SEQ_SPACE / 2) seq -= SEQ_SPACE;
      pinger.lastSeq = Math.max(pinger.lastSeq, seq);
      const at = now();
      const wait = pinger.waiting.get(seq);
      if (parsed.kind === "reply") {
        if (wait) clearTimeout(wait);
        pinger.waiting.delete(seq);
        anchor(seq, at - parsed.rttMs);
        const ok = parsed.rttMs <= check.timeoutMs;
        settleSeq(seq, { target, ok, rttMs: ok ? parsed.rttMs : null, ...(ok ? {} : { error: `answered after ${parsed.rttMs} ms` }) });
      } else if (parsed.kind === "failed") {
        settleSeq(seq, { target, ok: false, rttMs: null, error: parsed.error });
      } else {
        anchor(seq + 1, at);  // ping says so right before it sends the next one
        if (check.timeoutMs <= check.intervalMs) settleSeq(seq, { target, ok: false, rttMs: null, error: "no answer" });
        else if (!wait)
          pinger.waiting.set(seq, setTimeout(() => {
            pinger.waiting.delete(seq);
            settleSeq(seq, { target, ok: false, rttMs: null, error: "no answer" });
          }, check.timeoutMs - check.intervalMs));
      }
      arm();
    });
  };

  /** A probe process ended (or could not start): the target misses until it is restarted. */
  const gone = (target: string, pinger: Pinger) => {
    if (pinger.exited) return;
    pinger.exited = true;
    for (const t of pinger.waiting.values()) clearTimeout(t);
    if (pinger.timer) clearTimeout(pinger.timer);
    if (pingers.get(target) !== pinger) return;
    pingers.delete(target);
    if (stopped) return;
    idle.set(target, `probe exited: ${pinger.stderr.trim().split("\n").pop() || "no output"}`);
    restarts.set(target, setTimeout(() => {
      restarts.delete(target);
      if (!stopped && !pingers.has(target)) start(target);
    }, Math.max(1000, check.intervalMs)));
    flush();
  };

  const kill = (target: string) => {
    const p = pingers.get(target);
    const r = restarts.get(target);
    if (r) clearTimeout(r);
    restarts.delete(target);
    if (!p) return;
    pingers.delete(target);
    for (const t of p.waiting.values()) clearTimeout(t);
    if (p.timer) clearTimeout(p.timer);
    p.child.kill("SIGTERM");
  };

  // rounds go on by the clock while no probe process runs (no source address, probes dying)
  const ticker = setInterval(() => {
    if (stopped || pingers.size > 0) return;
    if (now() - lastEmit >= check.intervalMs - 1) emit(next, pending.get(next) ?? new Map());
  }, check.intervalMs);
  ticker.unref?.();

  for (const t of targets) start(t);

  return {
    processes: () => pingers.size,
    retarget(update) {
      for (const f of [4, 6] as const) {
        const key = f === 4 ? "source4" : "source6";
        if (!(key in update)) continue;
        const value = update[key] ?? null;
        if (value === sources[f]) continue;
        sources[f] = value;
        for (const t of targets) {
          if (family.get(t) !== f) continue;
          kill(t);
          start(t);
        }
      }
      flush();
    },
    async stop() {
      stopped = true;
      clearInterval(ticker);
      const children = [...pingers.values()].map((p) => p.child);
      for (const t of [...targets]) kill(t);
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              const hard = setTimeout(() => c.kill("SIGKILL"), 1000);
              c.once("exit", () => {
                clearTimeout(hard);
                resolve();
              });
            }),
        ),
      );
    },
  };
}
