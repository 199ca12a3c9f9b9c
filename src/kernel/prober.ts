/**
 * Health probes that really leave by an uplink (or a target's conduit): the
 * rounds of one checked thing, assembled from one probe stream per target.
 * Every probe is sent FROM the uplink's own address, so the policy rule `from
 * <addr> lookup <table>` routes it by the uplink's table, never by main;
 * inside the namespace when one is given.
 *
 * ICMP: one long-lived ping per target (pingStream.ts). A miss is final at
 * its "no answer yet" line when the timeout is at most the interval, and
 * `timeout - interval` later otherwise (a reply in between still counts).
 * TCP, HTTP and commands: a stream of the daemon's one check prober process
 * (checkProber.ts), which reports each probe's result as a typed record.
 *
 * Results are grouped into rounds by sequence number (all streams of an uplink
 * start together, so seq N of each target is one round); a round is handed
 * over when every live target has its result, or when another target is
 * already `lag` rounds ahead (the late one counts as a miss). A target that
 * cannot probe (no source address of its family, its stream died) counts as a
 * miss with an error, and when no stream is running the rounds go on by a
 * timer: an uplink that cannot send is down.
 *
 * Cost per uplink at the defaults: a ping per ICMP target, 5 echo requests per
 * second per target (about 1 KB/s both ways for 2 targets); the TCP, HTTP and
 * command checks of the whole daemon share one node process.
 */
import { isIP } from "node:net";
import type { CheckSettings, ProbeResult, Round } from "../model/check.js";
import { CheckProber, type ProberMethod } from "./checkProber.js";
import { probeArgv, startPing, type LineHandlers, type LineStream, type ProbeLine } from "./pingStream.js";

export { parseProbeLine, probeArgv } from "./pingStream.js";

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
  /** the daemon's check prober for TCP, HTTP and command checks; absent: one of their own, stopped with them */
  prober?: CheckProber;
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
  /** ends every probe stream; no round is handed over after it resolves */
  stop(): Promise<void>;
  /** new source addresses (a DHCP renew): the probes of a changed family restart from the new address */
  retarget(sources: ProbeSources): void;
  /** targets being probed now (a ping each for ICMP, a stream of the check prober otherwise) */
  processes(): number;
}

/** One target's probe stream. */
interface Pinger {
  stream: LineStream | null;
  source: string;
  /** round number of seq 0 */
  base: number;
  /** the highest seq seen, unwrapped (ping's icmp_seq is 16 bits) */
  lastSeq: number;
  seen: boolean;
  /** seqs shown "no answer yet" and waiting out the rest of the timeout */
  waiting: Map<number, NodeJS.Timeout>;
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

  let own: CheckProber | null = null;
  /** A stream of the check prober, its records read as lines. */
  const openOnProber = (method: ProberMethod, target: string, source: string, handlers: LineHandlers): LineStream => {
    const prober = options.prober ?? (own ??= new CheckProber(options.netns, options.node));
    const stream = prober.open({ target, source, method, intervalMs: check.intervalMs, timeoutMs: check.timeoutMs }, {
      result: (r) => handlers.line(r.ok ? { seq: r.seq, kind: "reply", rttMs: r.rttMs } : { seq: r.seq, kind: "failed", error: r.error }),
      gone: handlers.gone,
    });
    return { stop: async () => stream.close() };
  };

  const start = (target: string) => {
    const source = sources[family.get(target)!];
    if (!source) {
      idle.set(target, `no IPv${family.get(target)} source address`);
      return;
    }
    const pinger: Pinger = { stream: null, source, base: highest(), lastSeq: 0, seen: false, waiting: new Map(), exited: false, settled: new Set(), anchorSeq: 0, anchorAt: null, timer: null };
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
    const onLine = (parsed: ProbeLine) => {
      if (pingers.get(target) !== pinger) return;
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
    };
    pingers.set(target, pinger);
    idle.delete(target);
    const handlers: LineHandlers = { line: onLine, gone: (why) => gone(target, pinger, why) };
    pinger.stream = check.method.kind === "icmp" ? startPing(options.netns, probeArgv(check, target, source, options), handlers) : openOnProber(check.method, target, source, handlers);
  };

  /** A probe process ended (or could not start): the target misses until it is restarted. */
  const gone = (target: string, pinger: Pinger, why: string) => {
    if (pinger.exited) return;
    pinger.exited = true;
    for (const t of pinger.waiting.values()) clearTimeout(t);
    if (pinger.timer) clearTimeout(pinger.timer);
    if (pingers.get(target) !== pinger) return;
    pingers.delete(target);
    if (stopped) return;
    idle.set(target, `probe exited: ${why}`);
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
    return p.stream?.stop();
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
          void kill(t);
          start(t);
        }
      }
      flush();
    },
    async stop() {
      stopped = true;
      clearInterval(ticker);
      await Promise.all(targets.map((t) => kill(t)));
      await own?.stop();
    },
  };
}
