/**
 * The kernel's routing decision, walked step by step: rules in priority order
 * with every selector, longest-prefix match in each table (lowest metric
 * among equals), route types, throw, suppress_prefixlength, goto, and the
 * source address the kernel would pick.
 */
import { formatAddress, parseAddress, prefixContains, type Address } from "../net/ip.js";
import type { Decision, KernelView, Packet, RouteResult, SimAddress, SimRoute, SimRule, Step } from "./types.js";

const TABLE_NAMES: Record<number, string> = { 253: "default", 254: "main", 255: "local" };

/** A table id as `ip -j` names it. */
export function tableName(id: number): string {
  return TABLE_NAMES[id] ?? String(id);
}

function ruleMatches(rule: SimRule, p: Packet, dst: Address, src: Address | null): boolean {
  return rule.not ? !selectorsMatch(rule, p, dst, src) : selectorsMatch(rule, p, dst, src);
}

function selectorsMatch(rule: SimRule, p: Packet, dst: Address, src: Address | null): boolean {
  if (rule.src && (src === null || !prefixContains(rule.src, src))) return false;
  if (rule.dst && !prefixContains(rule.dst, dst)) return false;
  if (rule.iif !== undefined && rule.iif !== (p.iif ?? "lo")) return false;
  if (rule.oif !== undefined && rule.oif !== p.oif) return false;
  if (rule.fwmark !== undefined && (((p.mark ?? 0) ^ rule.fwmark) & (rule.fwmask ?? 0xffffffff)) >>> 0 !== 0) return false;
  // a question without a protocol is asked as UDP in IPv4 (as `ip route get` does) and as none in IPv6
  if (rule.ipproto !== undefined && (p.proto ?? (p.family === 4 ? 17 : undefined)) !== rule.ipproto) return false;
  if (rule.sport && (p.sport === undefined || p.sport < rule.sport[0] || p.sport > rule.sport[1])) return false;
  if (rule.dport && (p.dport === undefined || p.dport < rule.dport[0] || p.dport > rule.dport[1])) return false;
  if (rule.uidrange) {
    // packets from outside carry uid 0 in IPv4's lookup and no uid at all in IPv6's (measured)
    const uid = p.uid ?? (p.iif && p.family === 6 ? undefined : 0);
    if (uid === undefined || uid < rule.uidrange[0] || uid > rule.uidrange[1]) return false;
  }
  return true;
}

/** Rules sorted per family and routes per table, longest prefix and lowest metric first: built once per view. */
interface ViewIndex {
  rules: Map<number, SimRule[]>;
  tables: Map<string, SimRoute[]>;
  /** usable source addresses by family, and by family and interface */
  sources: Map<string, SimAddress[]>;
}

const indexes = new WeakMap<KernelView, ViewIndex>();

function indexOf(view: KernelView): ViewIndex {
  let idx = indexes.get(view);
  if (idx) return idx;
  idx = { rules: new Map(), tables: new Map(), sources: new Map() };
  for (const a of view.addresses) {
    if (a.scope === "host" || (a.prefix.family === 6 && a.scope === "link")) continue;
    for (const key of [`${a.prefix.family}`, `${a.prefix.family}/${a.dev}`]) {
      if (!idx.sources.has(key)) idx.sources.set(key, []);
      idx.sources.get(key)!.push(a);
    }
  }
  for (const family of [4, 6]) idx.rules.set(family, view.rules.filter((r) => r.family === family).sort((a, b) => a.priority - b.priority));
  for (const r of view.routes) {
    if (r.type === "multicast" || r.type === "anycast") continue;
    const key = `${r.family}/${r.table}`;
    if (!idx.tables.has(key)) idx.tables.set(key, []);
    idx.tables.get(key)!.push(r);
  }
  for (const list of idx.tables.values()) list.sort((a, b) => b.dst.length - a.dst.length || a.metric - b.metric);
  indexes.set(view, idx);
  return idx;
}

/** Longest-prefix match in one table; among equal prefixes the lowest metric. */
export function lookupTable(view: KernelView, family: 4 | 6, table: number, dst: Address, oif?: string): SimRoute | null {
  for (const r of indexOf(view).tables.get(`${family}/${table}`) ?? []) {
    if (!prefixContains(r.dst, dst)) continue;
    if (oif !== undefined && r.dev !== undefined && r.dev !== oif && r.type === "unicast") continue;
    return r;
  }
  return null;
}

/** The source address the kernel picks for a route without a preferred source. */
export function selectSource(view: KernelView, family: 4 | 6, dev: string | undefined, toward: Address): string | undefined {
  const idx = indexOf(view);
  const candidates = idx.sources.get(`${family}`) ?? [];
  const onDev = idx.sources.get(`${family}/${dev}`) ?? [];
  if (family === 4) {
    const sameNet = onDev.find((a) => prefixContains(a.prefix, toward));
    const pick = sameNet ?? onDev[0] ?? candidates[0];
    return pick ? formatAddress(pick.prefix) : undefined;
  }
  const common = (a: Address) => {
    let bits = 0;
    for (let i = 127; i >= 0; i--) {
      if (((a.value >> BigInt(i)) & 1n) !== ((toward.value >> BigInt(i)) & 1n)) break;
      bits++;
    }
    return bits;
  };
  const pool = onDev.length ? onDev : candidates;
  const pick = [...pool].sort((a, b) => common(b.prefix) - common(a.prefix))[0];
  return pick ? formatAddress(pick.prefix) : undefined;
}

const parsed = new Map<string, Address | null>();

/** Parses with a bounded cache: the differential tests and the bench ask about the same addresses again and again. */
function cachedAddress(text: string): Address | null {
  let a = parsed.get(text);
  if (a === undefined) {
    if (parsed.size > 50_000) parsed.clear();
    a = parseAddress(text);
    parsed.set(text, a);
  }
  return a;
}

/** Decides the route of a packet, explaining each step. */
export function decide(view: KernelView, p: Packet): Decision {
  const steps: Step[] = [];
  const dst = cachedAddress(p.dst);
  if (!dst) throw new Error(`not an address: ${p.dst}`);
  const src = p.src ? cachedAddress(p.src) : null;
  const rules = indexOf(view).rules.get(p.family) ?? [];
  let gotoTarget: number | null = null;
  for (const rule of rules) {
    if (gotoTarget !== null && rule.priority < gotoTarget) continue;
    gotoTarget = null;
    if (!ruleMatches(rule, p, dst, src)) continue;
    const a = rule.action;
    if (a.kind === "goto") {
      // the kernel jumps only to a rule with exactly that priority; an unresolved goto does nothing
      if (!rules.some((r) => r.priority === a.target)) {
        steps.push({ kind: "rule", text: `rule ${rule.text}: matched, goto ${a.target} unresolved: ignored` });
        continue;
      }
      steps.push({ kind: "rule", text: `rule ${rule.text}: matched, goto ${a.target}` });
      gotoTarget = a.target;
      continue;
    }
    if (a.kind === "nop") continue;
    if (a.kind !== "lookup") {
      steps.push({ kind: "rule", text: `rule ${rule.text}: matched, ${a.kind}` });
      return { result: errorResult(a.kind, true), steps };
    }
    const route = lookupTable(view, p.family, a.table, dst, p.oif);
    if (!route) {
      if (a.table !== 255) steps.push({ kind: "rule", text: `rule ${rule.text}: matched, no route in table ${tableName(a.table)}` });
      continue;
    }
    if (route.type === "throw") {
      steps.push({ kind: "rule", text: `rule ${rule.text}: matched, table ${tableName(a.table)} throws ${route.text}` });
      continue;
    }
    // the kernel suppresses only successful lookups: an error route (blackhole, unreachable, prohibit) stands
    const failing = route.type === "blackhole" || route.type === "unreachable" || route.type === "prohibit";
    if (!failing && rule.suppressPrefixLength !== undefined && route.dst.length <= rule.suppressPrefixLength) {
      steps.push({ kind: "rule", text: `rule ${rule.text}: matched ${route.text}, suppressed (prefix length ${route.dst.length} <= ${rule.suppressPrefixLength})` });
      continue;
    }
    steps.push({ kind: "rule", text: `rule ${rule.text}: matched` });
    steps.push({ kind: "route", text: `table ${tableName(a.table)}: ${route.text}` });
    return { result: routeResult(view, p, route, dst), steps };
  }
  steps.push({ kind: "verdict", text: "no rule found a route: network unreachable" });
  return { result: { type: "unreachable", error: "ENETUNREACH" }, steps };
}

/**
 * The kernel's errors differ by origin: an `unreachable` route fails with
 * EHOSTUNREACH (fib_props, fib6_prop) but an `unreachable` rule action with
 * ENETUNREACH (fib4_rule_action, and ip6_null_entry for IPv6).
 */
function errorResult(kind: "blackhole" | "unreachable" | "prohibit", byRule = false): RouteResult {
  return { type: kind, error: kind === "blackhole" ? "EINVAL" : kind === "prohibit" ? "EACCES" : byRule ? "ENETUNREACH" : "EHOSTUNREACH" };
}

function routeResult(view: KernelView, p: Packet, route: SimRoute, dst: Address): RouteResult {
  const table = tableName(route.table);
  if (route.type === "blackhole" || route.type === "unreachable" || route.type === "prohibit") return { ...errorResult(route.type), table };
  if (route.type === "local" || route.type === "broadcast") {
    // delivered locally: the kernel reports lo, also for broadcasts received from outside
    const dev = route.type === "local" || p.iif ? "lo" : route.dev;
    const src = p.src ?? route.prefsrc ?? (route.type === "local" ? formatAddress(dst) : undefined);
    return { type: route.type, table, ...(dev ? { dev } : {}), ...(src ? { src } : {}) };
  }
  const toward = route.gateway ? parseAddress(route.gateway)! : dst;
  const src = p.src ?? route.prefsrc ?? selectSource(view, p.family, route.dev, toward);
  return { type: "unicast", table, ...(route.dev ? { dev: route.dev } : {}), ...(route.gateway ? { via: route.gateway } : {}), ...(src ? { src } : {}) };
}
