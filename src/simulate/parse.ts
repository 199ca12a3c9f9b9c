/**
 * Turns `ip -N -j` rows (rules, routes, addresses) into the simulator's view.
 * Pure: the rows are read by kernel/, or written by hand in tests.
 */
import type { Family } from "../net/ip.js";
import { canonicalAddress, formatPrefix, parsePrefix } from "../net/ip.js";
import type { KernelView, SimAddress, SimRoute, SimRule } from "./types.js";

type Row = Record<string, unknown>;

const ACTIONS: Record<string, "blackhole" | "unreachable" | "prohibit" | "nop"> = { "6": "blackhole", "7": "unreachable", "8": "prohibit", "3": "nop", blackhole: "blackhole", unreachable: "unreachable", prohibit: "prohibit", nop: "nop" };
const ROUTE_TYPES: Record<string, SimRoute["type"]> = { "1": "unicast", "2": "local", "3": "broadcast", "4": "anycast", "5": "multicast", "6": "blackhole", "7": "unreachable", "8": "prohibit", "9": "throw" };

function prefixOf(addr: unknown, len: unknown, family: Family) {
  if (addr === undefined || addr === "all") return undefined;
  const bits = family === 4 ? 32 : 128;
  return parsePrefix(`${String(addr)}/${len ?? bits}`) ?? undefined;
}

function range(start: unknown, end: unknown, single: unknown): [number, number] | undefined {
  if (start !== undefined) return [Number(start), Number(end ?? start)];
  if (single !== undefined) return [Number(single), Number(single)];
  return undefined;
}

/** One `ip -N -j rule` row. */
export function simRule(row: Row, family: Family): SimRule {
  const action: SimRule["action"] =
    row.goto !== undefined
      ? { kind: "goto", target: Number(row.goto) }
      : row.action !== undefined && ACTIONS[String(row.action)]
        ? { kind: ACTIONS[String(row.action)] }
        : { kind: "lookup", table: Number(row.table ?? 254) };
  const proto = row.ipproto !== undefined ? Number(String(row.ipproto).replace("ipproto-", "")) : undefined;
  const rule: SimRule = { family, priority: Number(row.priority), not: "not" in row, action, protocol: Number(row.protocol ?? 0), text: "" };
  const src = prefixOf(row.src, row.srclen, family);
  const dst = prefixOf(row.dst, row.dstlen, family);
  if (src) rule.src = src;
  if (dst) rule.dst = dst;
  if (row.iif !== undefined) rule.iif = String(row.iif);
  if (row.oif !== undefined) rule.oif = String(row.oif);
  if (row.fwmark !== undefined) {
    rule.fwmark = Number(row.fwmark) >>> 0;
    rule.fwmask = row.fwmask !== undefined ? Number(row.fwmask) >>> 0 : 0xffffffff;
  }
  if (proto !== undefined && !Number.isNaN(proto)) rule.ipproto = proto;
  const sport = range(row.sport_start, row.sport_end, row.sport);
  const dport = range(row.dport_start, row.dport_end, row.dport);
  const uid = range(row.uid_start, row.uid_end, undefined);
  if (sport) rule.sport = sport;
  if (dport) rule.dport = dport;
  if (uid) rule.uidrange = uid;
  if (row.suppress_prefixlen !== undefined) rule.suppressPrefixLength = Number(row.suppress_prefixlen);
  rule.text = ruleText(rule);
  return rule;
}

function ruleText(r: SimRule): string {
  const parts = [`${r.priority}:`];
  if (r.not) parts.push("not");
  parts.push(r.src ? `from ${formatPrefix(r.src)}` : "from all");
  if (r.dst) parts.push(`to ${formatPrefix(r.dst)}`);
  if (r.fwmark !== undefined) parts.push(`fwmark 0x${r.fwmark.toString(16)}/0x${(r.fwmask ?? 0xffffffff).toString(16)}`);
  if (r.iif) parts.push(`iif ${r.iif}`);
  if (r.oif) parts.push(`oif ${r.oif}`);
  if (r.ipproto !== undefined) parts.push(`ipproto ${r.ipproto}`);
  if (r.sport) parts.push(`sport ${r.sport.join("-")}`);
  if (r.dport) parts.push(`dport ${r.dport.join("-")}`);
  if (r.uidrange) parts.push(`uidrange ${r.uidrange.join("-")}`);
  if (r.action.kind === "lookup") parts.push(`lookup ${r.action.table}`);
  else if (r.action.kind === "goto") parts.push(`goto ${r.action.target}`);
  else parts.push(r.action.kind);
  if (r.suppressPrefixLength !== undefined) parts.push(`suppress_prefixlength ${r.suppressPrefixLength}`);
  return parts.join(" ");
}

/** One `ip -N -j route` row. */
export function simRoute(row: Row, family: Family): SimRoute | null {
  const type = row.type === undefined ? "unicast" : ROUTE_TYPES[String(row.type)];
  if (!type) return null;
  const dstText = String(row.dst);
  const dst = dstText === "default" ? parsePrefix(family === 4 ? "0.0.0.0/0" : "::/0") : parsePrefix(dstText);
  if (!dst) return null;
  const route: SimRoute = { family, table: Number(row.table ?? 254), dst, type, metric: Number(row.metric ?? 0), protocol: Number(row.protocol ?? 0), text: "" };
  if (row.gateway !== undefined) route.gateway = canonicalAddress(String(row.gateway));
  if (row.dev !== undefined) route.dev = String(row.dev);
  if (row.prefsrc !== undefined) route.prefsrc = canonicalAddress(String(row.prefsrc));
  route.text = `${type === "unicast" ? "" : `${type} `}${dstText}${route.gateway ? ` via ${route.gateway}` : ""}${route.dev ? ` dev ${route.dev}` : ""}${route.prefsrc ? ` src ${route.prefsrc}` : ""} table ${route.table}${row.metric !== undefined ? ` metric ${route.metric}` : ""}`;
  return route;
}

/** `ip -j addr` rows: every address of every interface. */
export function simAddresses(rows: Row[]): SimAddress[] {
  const out: SimAddress[] = [];
  for (const row of rows) {
    for (const a of (row.addr_info as Row[] | undefined) ?? []) {
      const prefix = parsePrefix(`${String(a.local)}/${String(a.prefixlen)}`);
      if (!prefix) continue;
      const scope = a.scope === "host" || a.scope === "254" ? "host" : a.scope === "link" || a.scope === "253" ? "link" : "global";
      out.push({ dev: String(row.ifname), prefix, text: `${String(a.local)}/${String(a.prefixlen)}`, scope });
    }
  }
  return out;
}

/** Assembles a view from the rows of both families. */
export function kernelView(rows: { rules4: Row[]; rules6: Row[]; routes4: Row[]; routes6: Row[]; addrs: Row[] }): KernelView {
  return {
    rules: [...rows.rules4.map((r) => simRule(r, 4)), ...rows.rules6.map((r) => simRule(r, 6))],
    routes: [...rows.routes4.map((r) => simRoute(r, 4)), ...rows.routes6.map((r) => simRoute(r, 6))].filter((r): r is SimRoute => r !== null),
    addresses: simAddresses(rows.addrs),
  };
}

