/**
 * `symroute trace --live`, the pure half: the nft commands of the trace table
 * (a chain before symroute's that sets `meta nftrace` on packets of one flow
 * selector) and a parser of `nft monitor trace` lines that groups them into
 * packets and reads each packet's path through symroute's chains: the flow,
 * the rules hit (with their comments), the Maglev lookup or flow memory, the
 * target, the mark and the verdict. Nothing here runs a command.
 */
import { formatPrefix, parsePrefix, type Family } from "../net/ip.js";
import { parseLbComment } from "../model/names.js";
import { parseTraceLine, type PacketFields } from "./traceLine.js";

export { parsePacketFields, parseTraceLine, type PacketFields, type TraceEvent } from "./traceLine.js";

/** The table `trace --live` owns while it runs; deleted at the end (and a stale one at the start). */
export const TRACE_TABLE = "symroute_trace";
/** Before symroute's load balancers (-300, raw) and everything after them; after defragmentation (-400). */
export const TRACE_PRIO = -350;
/** The comment on the trace rules (the daemon tells its own tables from this one by the table's name, not by comments). */
export const TRACE_COMMENT = "symroute_trace: trace --live";

/** Which packets to trace: every field optional, all given ones must match. */
export interface FlowSelector {
  /** address or prefix */
  src?: string;
  dst?: string;
  /** IP protocol number */
  proto?: number;
  sport?: number;
  dport?: number;
  /** arriving interface: only packets from outside (prerouting) */
  iif?: string;
}

type Json = Record<string, unknown>;

/** tcp, udp, dccp, sctp, udplite */
const PORT_PROTOCOLS = [6, 17, 33, 132, 136];

function addressMatch(family: Family, field: "saddr" | "daddr", text: string): Json {
  const p = parsePrefix(text);
  if (!p) throw new Error(`not an address or prefix: ${text}`);
  const max = family === 4 ? 32 : 128;
  const right = p.length === max ? formatPrefix(p) : { prefix: { addr: formatPrefix({ ...p, length: max }), len: p.length } };
  return { match: { op: "==", left: { payload: { protocol: family === 4 ? "ip" : "ip6", field } }, right } };
}

/** The expressions that match a selector (before `meta nftrace set 1`). */
export function selectorMatches(sel: FlowSelector): Json[] {
  const family = [sel.src, sel.dst].map((t) => (t ? parsePrefix(t)?.family : undefined)).find((f) => f !== undefined);
  const out: Json[] = [];
  if (sel.iif !== undefined) out.push({ match: { op: "==", left: { meta: { key: "iifname" } }, right: sel.iif } });
  if (family !== undefined) {
    if (sel.src) out.push(addressMatch(family, "saddr", sel.src));
    if (sel.dst) out.push(addressMatch(family, "daddr", sel.dst));
  }
  if (sel.proto !== undefined) out.push({ match: { op: "==", left: { meta: { key: "l4proto" } }, right: sel.proto } });
  // ports without a protocol: the protocols that have ports (`th` alone would read an ICMP header's bytes as ports)
  else if (sel.sport !== undefined || sel.dport !== undefined) out.push({ match: { op: "==", left: { meta: { key: "l4proto" } }, right: { set: PORT_PROTOCOLS } } });
  for (const field of ["sport", "dport"] as const) {
    const port = sel[field];
    if (port !== undefined) out.push({ match: { op: "==", left: { payload: { protocol: "th", field } }, right: port } });
  }
  return out;
}

/**
 * One nft transaction that replaces any trace table left by a run that died
 * (add, delete, add: the table need not exist) and traces the selected flow
 * at prerouting and, unless --iif narrows it to arriving packets, output.
 */
export function traceTableCommands(sel: FlowSelector): Json[] {
  const table = { family: "inet", name: TRACE_TABLE };
  const hooks: [string, string][] = [["pre", "prerouting"]];
  if (sel.iif === undefined) hooks.push(["out", "output"]);
  const cmds: Json[] = [{ add: { table } }, { delete: { table } }, { add: { table } }];
  for (const [name, hook] of hooks) {
    cmds.push({ add: { chain: { family: "inet", table: TRACE_TABLE, name, type: "filter", hook, prio: TRACE_PRIO, policy: "accept" } } });
    cmds.push({
      add: { rule: { family: "inet", table: TRACE_TABLE, chain: name, expr: [...selectorMatches(sel), { mangle: { key: { meta: { key: "nftrace" } }, value: 1 } }], comment: TRACE_COMMENT } },
    });
  }
  return cmds;
}

/** Deletes the trace table (add first: the delete must not fail when it is already gone). */
export function traceTableCleanup(): Json[] {
  const table = { family: "inet", name: TRACE_TABLE };
  return [{ add: { table } }, { delete: { table } }];
}

const TRACE_HOOKS: Record<string, string> = { [`inet ${TRACE_TABLE} pre`]: "prerouting", [`inet ${TRACE_TABLE} out`]: "output" };

/** One step of a packet's path through symroute's chains. */
export interface PathStep {
  table: string;
  chain: string;
  kind: "rule" | "verdict" | "policy";
  rule?: string;
  comment?: string;
  verdict?: string;
  mark?: number;
}

/** What a load balancer did to the packet, read from its rules' comments. */
export interface BalancerHit {
  name: string;
  flow?: string;
  /** "table": the Maglev lookup chose the target; "memory": the flow memory did */
  source?: "table" | "memory";
  /** the chain the lookup jumped to */
  chain?: string;
  target?: string;
  /** the mark the target's chain set */
  mark?: number;
  /** the flow matched no flow of the balancer: dropped */
  noFlow?: boolean;
}

/** One traced packet. */
export interface LivePacket {
  /** nft's trace id (the kernel reuses ids: a packet is one run from the trace table's first line) */
  id: string;
  flow: PacketFields;
  /** the base chain the trace table saw the packet in (pre: arriving, out: sent by the host) */
  hook?: "prerouting" | "output";
  /** symroute's chains only */
  steps: PathStep[];
  balancer?: BalancerHit;
  /** the last verdict in a base chain of symroute's, or of the trace table when none */
  verdict?: string;
  /** the mark as the last event before routing reported it (symroute's or the trace table's base chain) */
  mark: number;
  /** every base chain (family table chain) the packet went through, in order */
  baseChains: string[];
}

/** True for symroute's own tables (any family), not the trace table. */
export function isSymrouteTable(table: string, own = "symroute"): boolean {
  return table === own;
}

/** Reads the balancer's decisions from the comments of symroute's rules (`NAME: flow F`, `NAME: Maglev lookup`, ...). */
export function balancerOf(steps: PathStep[]): BalancerHit | undefined {
  let hit: BalancerHit | undefined;
  const of = (name: string): BalancerHit => (hit && hit.name === name ? hit : (hit = { name }));
  for (const s of steps) {
    if (s.kind !== "rule" || !s.comment) continue;
    const parsed = parseLbComment(s.comment);
    if (!parsed) continue;
    const { balancer: name, rule } = parsed;
    if (rule.kind === "to vip") of(name);
    else if (rule.kind === "flow") of(name).flow = rule.flow;
    else if (rule.kind === "memory" || rule.kind === "lookup" || rule.kind === "entries") {
      const h = of(name);
      const jumped = /^(?:jump|goto) (\S+)/.exec(s.verdict ?? "")?.[1];
      // a flow-memory rule that did not jump (no entry yet) leaves the choice to the table
      if (!jumped) continue;
      // the chunked table's range lookup jumps to a part chain first: the target chain is the last jump
      if (rule.kind === "lookup" && /_part\d+_\d+$/.test(jumped)) continue;
      h.source = rule.kind === "memory" ? "memory" : "table";
      h.chain = jumped;
    } else if (rule.kind === "target") {
      const h = of(name);
      h.target = rule.target;
      h.chain ??= s.chain;
      const m = /meta mark set 0x([0-9a-f]+)/.exec(s.rule ?? "")?.[1];
      if (m !== undefined) h.mark = Number.parseInt(m, 16) >>> 0;
    } else if (rule.kind === "no flow") of(name).noFlow = true;
  }
  return hit;
}

/**
 * Groups trace events into packets. A packet starts at the trace table's
 * `packet:` line (the first chain that sees it with nftrace set); later
 * events with the same id belong to it until another packet starts with that
 * id. `hooks` maps "family table chain" of base chains to their hook, so the
 * mark used for routing is the one the packet had when it left prerouting or
 * output (a later forward or postrouting chain does not change the route).
 */
export class TraceCollector {
  private readonly open = new Map<string, { packet: LivePacket; lastAt: number; base?: string; seq: number }>();
  private readonly done: LivePacket[] = [];
  /** finished packets waiting for an earlier one still open: packets are handed over in the order they started */
  private readonly waiting = new Map<number, LivePacket>();
  private nextOut = 1;
  /** packets started so far */
  started = 0;

  constructor(
    private readonly hooks: ReadonlyMap<string, string> = new Map(),
    private readonly own = "symroute",
  ) {}

  /** Feeds one line; returns packets now complete, in the order they started (a new packet with a reused id ends the old one). */
  add(line: string, now = Date.now()): LivePacket[] {
    const ev = parseTraceLine(line);
    if (!ev) return [];
    const finished: LivePacket[] = [];
    let cur = this.open.get(ev.id);
    if (ev.kind === "packet" && ev.table === TRACE_TABLE) {
      if (cur) finished.push(...this.finish(ev.id));
      const hook = ev.chain === "pre" ? "prerouting" : ev.chain === "out" ? "output" : undefined;
      this.started += 1;
      cur = { packet: { id: ev.id, flow: ev.packet ?? {}, ...(hook ? { hook } : {}), steps: [], mark: ev.packet?.mark ?? 0, baseChains: [] }, lastAt: now, seq: this.started };
      this.open.set(ev.id, cur);
    }
    // events of a packet whose start the monitor missed (it began before we listened) are left out
    if (!cur) return finished;
    cur.lastAt = now;
    const p = cur.packet;
    const key = `${ev.family} ${ev.table} ${ev.chain}`;
    if (ev.kind === "packet") {
      cur.base = key;
      p.baseChains.push(key);
    }
    // the mark that routing sees: the one the packet had in prerouting or output (a chain of an unknown hook counts too)
    const hook = cur.base ? (this.hooks.get(cur.base) ?? TRACE_HOOKS[cur.base]) : undefined;
    const beforeRouting = hook === undefined || hook === "prerouting" || hook === "output";
    if (ev.mark !== undefined && beforeRouting) p.mark = ev.mark;
    if (ev.kind === "rule" && beforeRouting && ev.rule && /meta mark set 0x([0-9a-f]+)\b/.test(ev.rule) && ev.mark === undefined) {
      // a rule that set a constant mark: the packet carries it from here on (nft prints the mark only on some lines)
      p.mark = Number.parseInt(/meta mark set 0x([0-9a-f]+)\b/.exec(ev.rule)![1], 16) >>> 0;
    }
    if (ev.table === TRACE_TABLE) {
      if ((ev.kind === "policy" || ev.kind === "verdict") && ev.verdict && p.verdict === undefined && !p.steps.length) p.verdict = ev.verdict;
      return finished;
    }
    if (!isSymrouteTable(ev.table, this.own) || ev.kind === "packet" || ev.kind === "other") return finished;
    const step: PathStep = { table: `${ev.family} ${ev.table}`, chain: ev.chain, kind: ev.kind };
    if (ev.rule !== undefined) step.rule = ev.rule;
    if (ev.comment !== undefined) step.comment = ev.comment;
    if (ev.verdict !== undefined) step.verdict = ev.verdict;
    if (ev.mark !== undefined) step.mark = ev.mark;
    p.steps.push(step);
    if (ev.kind === "policy" || (ev.kind === "verdict" && ev.verdict && !/^(continue|return)$/.test(ev.verdict)) || (ev.kind === "rule" && /^(accept|drop)$/.test(ev.verdict ?? ""))) p.verdict = ev.verdict;
    return finished;
  }

  /** Ends packets that saw no event for `quietMs` (their path through every hook is over). */
  settle(now = Date.now(), quietMs = 200): LivePacket[] {
    const out: LivePacket[] = [];
    for (const [id, cur] of this.open) if (now - cur.lastAt >= quietMs) out.push(...this.finish(id));
    return out;
  }

  /** Ends every open packet (the trace is over). */
  flush(): LivePacket[] {
    return [...this.open.keys()].flatMap((id) => this.finish(id));
  }

  /** Every packet handed over so far, in the order they started. */
  packets(): LivePacket[] {
    return [...this.done];
  }

  private finish(id: string): LivePacket[] {
    const cur = this.open.get(id)!;
    this.open.delete(id);
    const p = cur.packet;
    const b = balancerOf(p.steps);
    if (b) p.balancer = b;
    this.waiting.set(cur.seq, p);
    const out: LivePacket[] = [];
    for (let next = this.waiting.get(this.nextOut); next; next = this.waiting.get(this.nextOut)) {
      this.waiting.delete(this.nextOut++);
      this.done.push(next);
      out.push(next);
    }
    return out;
  }
}

/** The flow of a packet in one line: `tcp 10.0.0.2:40001 -> 20.0.0.1:80`. */
export function flowText(f: PacketFields): string {
  const host = (a: string | undefined, port: number | undefined) => (a === undefined ? "?" : port === undefined ? a : f.family === 6 ? `[${a}]:${port}` : `${a}:${port}`);
  return `${f.proto ?? "ip"} ${host(f.src, f.sport)} -> ${host(f.dst, f.dport)}`;
}
