/**
 * `symroute trace --live`, the running half: listen with `nft monitor
 * trace`, add the trace table, collect packets until enough were seen, the
 * time is up or a signal came, and always delete the trace table. Each
 * packet gets, beside its path through symroute's chains, the Maglev entry
 * symroute computes for it (checked against the target the kernel jumped
 * to), the ip rule the simulator finds for its mark and the route the
 * kernel itself chooses (`ip route get ... mark M`).
 */
import type { Runner } from "../kernel/runner.js";
import { readBaseChainHooks, sendTraceTable, startTraceMonitor } from "../kernel/traceMonitor.js";
import { kernelDecisions, readKernelView } from "../engine/simView.js";
import { decide } from "../simulate/route.js";
import { balancerTarget } from "../simulate/balancer.js";
import type { BalancerInfo } from "../model/balancer.js";
import type { KernelView, Packet, RouteResult } from "../simulate/types.js";
import { canonicalAddress } from "../net/ip.js";
import { TraceCollector, traceTableCleanup, traceTableCommands, type BalancerHit, type FlowSelector, type LivePacket } from "./liveTrace.js";

export interface LiveOptions {
  selector: FlowSelector;
  /** stop after this many packets */
  count: number;
  /** stop after this long */
  durationMs: number;
  /** symroute's applied balancers (from the state), for the Maglev entry */
  balancers: BalancerInfo[];
  /** the kernel's routing state, when the caller has read it already */
  view?: KernelView;
  /** stops the trace early (SIGINT, SIGTERM) */
  signal?: AbortSignal;
  /** called once the trace table is in place and packets are being traced */
  onTracing?: () => void;
  /** called with each packet, in the order they ended, as soon as it is known */
  onPacket?: (p: LiveReport) => void;
  /** called when the kernel dropped trace events */
  onLost?: (why: string) => void;
}

/** One packet as `trace --live` reports it. */
export interface LiveReport extends Omit<LivePacket, "balancer" | "baseChains"> {
  /** 1-based, in the order the packets ended */
  n: number;
  balancer?: BalancerHit & {
    /** the Maglev entry symroute computes for the flow (jhash of the 5-tuple with the balancer's seed) */
    entry?: number;
    size?: number;
    /** the table's owner of that entry in the applied state; differs from `target` only when the kernel's table is not the applied one */
    entryOwner?: string;
  };
  /** the ip rules the packet matched with its mark (the simulator's reading of the kernel's rules) */
  rules: string[];
  /** the kernel's route for the packet with its mark (`ip route get`); absent when symroute dropped it */
  route?: RouteResult;
}

export interface LiveResult {
  packets: LiveReport[];
  /** what ended the trace: enough packets, the time, SIGINT/SIGTERM, or nft monitor itself ending */
  stoppedBy: "count" | "duration" | "signal" | "monitor";
  /** events the kernel dropped (the trace may be incomplete) */
  lost: number;
}

const PROTO: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, "ipv6-icmp": 58, icmpv6: 58, sctp: 132, dccp: 33, udplite: 136 };

/** The packet symroute's routing sees: the flow, where it came in, and the mark it left prerouting or output with. */
export function routedPacket(p: LivePacket): Packet | null {
  const f = p.flow;
  if (!f.family || !f.dst) return null;
  const out: Packet = { family: f.family, dst: canonicalAddress(f.dst) };
  if (f.src) out.src = canonicalAddress(f.src);
  if (p.hook !== "output" && f.iif) out.iif = f.iif;
  if (p.mark) out.mark = p.mark;
  const proto = f.proto !== undefined ? (PROTO[f.proto] ?? (/^\d+$/.test(f.proto) ? Number(f.proto) : undefined)) : undefined;
  if (proto !== undefined) out.proto = proto;
  if (f.sport !== undefined) out.sport = f.sport;
  if (f.dport !== undefined) out.dport = f.dport;
  return out;
}

/** Adds the computed Maglev entry to a balancer hit read from the trace. */
export function withEntry(hit: BalancerHit, p: LivePacket, balancers: BalancerInfo[]): LiveReport["balancer"] {
  const info = balancers.find((b) => b.name === hit.name);
  if (!info || hit.source !== "table" || !p.flow.src || !p.flow.dst) return hit;
  const ports = p.flow.sport !== undefined && p.flow.dport !== undefined ? { sport: p.flow.sport, dport: p.flow.dport } : undefined;
  const t = balancerTarget(info, canonicalAddress(p.flow.src), canonicalAddress(p.flow.dst), ports);
  return t ? { ...hit, entry: t.entry, size: info.size, entryOwner: t.target.name } : hit;
}

async function enrich(runner: Runner, view: KernelView, p: LivePacket, n: number, balancers: BalancerInfo[]): Promise<LiveReport> {
  const { balancer, baseChains: _b, ...rest } = p;
  const report: LiveReport = { n, ...rest, rules: [] };
  if (balancer) report.balancer = withEntry(balancer, p, balancers);
  const packet = routedPacket(p);
  if (packet && p.verdict !== "drop") {
    try {
      report.rules = decide(view, packet).steps.filter((s) => s.kind === "rule").map((s) => s.text);
    } catch {
      report.rules = [];
    }
    const [route] = await kernelDecisions(runner, [packet]);
    if (route) report.route = route;
  }
  return report;
}

/** Runs one live trace; the trace table is gone when this returns or throws. */
export async function runLiveTrace(runner: Runner, o: LiveOptions): Promise<LiveResult> {
  const [hooks, view] = await Promise.all([readBaseChainHooks(runner), o.view ?? readKernelView(runner)]);
  const collector = new TraceCollector(hooks);
  const reports: LiveReport[] = [];
  let finished = 0;
  let lost = 0;
  let queue: Promise<void> = Promise.resolve();
  let wake: (why: LiveResult["stoppedBy"]) => void = () => undefined;
  // the first reason wins: later wakes of an already settled promise change nothing
  const stopped = new Promise<LiveResult["stoppedBy"]>((resolve) => (wake = resolve));
  const take = (ps: LivePacket[]) => {
    for (const p of ps) {
      if (finished >= o.count) return;
      const n = ++finished;
      queue = queue.then(async () => {
        const r = await enrich(runner, view, p, n, o.balancers);
        reports.push(r);
        o.onPacket?.(r);
      });
      if (finished >= o.count) wake("count");
    }
  };
  const monitor = startTraceMonitor(
    runner.netns,
    (line) => take(collector.add(line)),
    (why) => {
      lost += 1;
      o.onLost?.(why);
    },
  );
  const ticker = setInterval(() => take(collector.settle()), 50);
  const timers: NodeJS.Timeout[] = [];
  const onAbort = () => wake("signal");
  try {
    await monitor.started;
    const early = await Promise.race([monitor.ended, new Promise<null>((r) => setTimeout(() => r(null), 0))]);
    if (early) throw new Error(`nft monitor trace ended at once: ${early.stderr.trim() || `exit ${String(early.code)}`}`);
    if (o.signal?.aborted) wake("signal");
    o.signal?.addEventListener("abort", onAbort, { once: true });
    await sendTraceTable(runner, traceTableCommands(o.selector));
    o.onTracing?.();
    timers.push(setTimeout(() => wake("duration"), o.durationMs));
    // Ctrl-C reaches nft monitor (same process group) as well as us: give our own handler a moment to name the signal
    void monitor.ended.then(() => setTimeout(() => wake(o.signal?.aborted ? "signal" : "monitor"), 100));
    const stoppedBy = await stopped;
    // the same array: the packets still open when the time ran out are added in `finally`
    return { packets: reports, stoppedBy, lost };
  } finally {
    o.signal?.removeEventListener("abort", onAbort);
    for (const t of timers) clearTimeout(t);
    clearInterval(ticker);
    // the trace table goes first, whatever happened: nothing may keep tracing after we stop listening
    await sendTraceTable(runner, traceTableCleanup()).catch(() => sendTraceTable(runner, traceTableCleanup()));
    await monitor.stop();
    take(collector.flush());
    await queue;
  }
}
