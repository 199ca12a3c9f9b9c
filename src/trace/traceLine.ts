/**
 * One line of `nft monitor trace`, parsed: the packet's header fields on its
 * `packet:` line, and each rule, verdict or policy line after it. The one
 * reader of that text; `trace --live` works on these records.
 */
import type { Family } from "../net/ip.js";

/** One line of `nft monitor trace`. */
export interface TraceEvent {
  id: string;
  family: string;
  table: string;
  chain: string;
  kind: "packet" | "rule" | "verdict" | "policy" | "other";
  /** the packet's headers (kind packet) */
  packet?: PacketFields;
  /** the rule as nft prints it, counters left out, comment apart (kind rule) */
  rule?: string;
  comment?: string;
  /** `accept`, `drop`, `continue`, `jump CHAIN`, `goto CHAIN`, `return` */
  verdict?: string;
  /** the packet's mark where nft printed it */
  mark?: number;
}

/** What the first trace line of a packet says about it. */
export interface PacketFields {
  family?: Family;
  src?: string;
  dst?: string;
  /** protocol name as nft prints it (tcp, udp, icmp, ipv6-icmp, ...) */
  proto?: string;
  sport?: number;
  dport?: number;
  iif?: string;
  oif?: string;
  mark?: number;
  /** tcp flags as nft prints them */
  tcpFlags?: string;
}

const LINE = /^trace id ([0-9a-f]+) (\S+) (\S+) (\S+) (packet: |rule |verdict |policy )?(.*?)\s*$/;

function hexMark(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number.parseInt(text, 16);
  return Number.isFinite(n) ? n >>> 0 : undefined;
}

/** Reads the header fields of a `packet:` line. */
export function parsePacketFields(text: string): PacketFields {
  const f: PacketFields = {};
  const word = (re: RegExp) => re.exec(text)?.[1];
  const v4s = word(/\bip saddr (\S+)/);
  const v6s = word(/\bip6 saddr (\S+)/);
  if (v4s || word(/\bip daddr (\S+)/)) f.family = 4;
  else if (v6s || word(/\bip6 daddr (\S+)/)) f.family = 6;
  const src = v4s ?? v6s;
  const dst = word(/\bip daddr (\S+)/) ?? word(/\bip6 daddr (\S+)/);
  if (src) f.src = src;
  if (dst) f.dst = dst;
  const proto = word(/\bip protocol (\S+)/) ?? word(/\bip6 nexthdr (\S+)/);
  if (proto) f.proto = proto;
  const sport = word(/\b(?:tcp|udp|sctp|dccp|udplite) sport (\d+)/);
  const dport = word(/\b(?:tcp|udp|sctp|dccp|udplite) dport (\d+)/);
  if (sport) f.sport = Number(sport);
  if (dport) f.dport = Number(dport);
  const iif = word(/\biif "([^"]*)"/);
  const oif = word(/\boif "([^"]*)"/);
  if (iif !== undefined) f.iif = iif;
  if (oif !== undefined) f.oif = oif;
  const mark = hexMark(word(/\bmeta mark 0x([0-9a-f]+)/));
  if (mark !== undefined) f.mark = mark;
  const flags = word(/\btcp flags == (\S+)/);
  if (flags) f.tcpFlags = flags;
  return f;
}

/** Parses one line; null for lines that are not trace events. */
export function parseTraceLine(line: string): TraceEvent | null {
  const m = LINE.exec(line);
  if (!m) return null;
  const [, id, family, table, chain, head, rest] = m;
  const ev: TraceEvent = { id, family, table, chain, kind: head ? (head.trim().replace(":", "") as TraceEvent["kind"]) : "other" };
  if (ev.kind === "packet") {
    ev.packet = parsePacketFields(rest);
    if (ev.packet.mark !== undefined) ev.mark = ev.packet.mark;
    return ev;
  }
  if (ev.kind === "rule") {
    // `RULE [comment "C"] (verdict V)`; the comment is the last quoted string before the verdict
    const v = /^(.*?)\s*\(verdict ([^)]*)\)\s*(.*)$/.exec(rest);
    let body = v ? v[1] : rest;
    if (v) ev.verdict = v[2].trim();
    const after = v?.[3] ?? "";
    const c = /\s*comment "((?:[^"\\]|\\.)*)"$/.exec(body);
    if (c) {
      ev.comment = c[1];
      body = body.slice(0, c.index);
    }
    ev.rule = body.replace(/\s*counter packets \d+ bytes \d+/g, "").trim();
    const mark = hexMark(/\bmeta mark 0x([0-9a-f]+)/.exec(after)?.[1]);
    if (mark !== undefined) ev.mark = mark;
    return ev;
  }
  if (ev.kind === "verdict" || ev.kind === "policy") {
    const v = /^(accept|drop|continue|return|queue|stolen|repeat|(?:jump|goto) \S+)/.exec(rest);
    if (v) ev.verdict = v[1];
    const mark = hexMark(/\bmeta mark 0x([0-9a-f]+)/.exec(rest)?.[1]);
    if (mark !== undefined) ev.mark = mark;
  }
  return ev;
}

