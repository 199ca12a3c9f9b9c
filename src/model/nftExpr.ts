/**
 * The nftables statements symroute uses, each built once as both nft JSON (what
 * is sent to the kernel) and nft text (what `render --format nft` shows), so
 * the two can never disagree. Strings enter only as JSON values.
 */
import { parsePrefix, formatPrefix, type Family } from "../net/ip.js";

/** One statement: its libnftables JSON and its nft text. */
export interface NftStatement {
  json: Record<string, unknown>;
  text: string;
}

/** A mark as nft lists it: 0x and eight hex digits. */
export const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;
const meta = (key: string) => ({ meta: { key } });
const ct = (key: string) => ({ ct: { key } });

/** `iifname "a"` or `iifname { "a", "b" }`, negated with `!=`. */
export function matchIifname(names: string[], negate = false): NftStatement {
  const op = negate ? "!=" : "==";
  const right = names.length === 1 ? names[0] : { set: [...names] };
  const textRight = names.length === 1 ? JSON.stringify(names[0]) : `{ ${names.map((n) => JSON.stringify(n)).join(", ")} }`;
  return {
    json: { match: { op, left: meta("iifname"), right } },
    text: `iifname ${negate ? "!= " : ""}${textRight}`,
  };
}

/** The key of a jump map: the input interface, symroute's bits of the connection mark, or the whole packet mark. */
export type JumpMapKey = { kind: "iifname" } | { kind: "ctMark"; mask: number } | { kind: "mark" };

/** An entry's key: an interface name, a mark, or an inclusive range of marks. */
export type JumpMapEntryKey = string | number | [number, number];

/**
 * `iifname vmap { "a" : jump c, ... }`, `ct mark & MASK vmap { 0x.. : jump c, ... }`
 * or `meta mark vmap { 0x..-0x.. : jump c, ... }`: one lookup instead of a rule per
 * entry. The map is anonymous, part of the rule, so a terse listing of the
 * ruleset (which leaves out the elements of named sets and maps) still shows it.
 */
export function jumpMap(key: JumpMapKey, entries: [JumpMapEntryKey, string][]): NftStatement {
  const keyJson = key.kind === "iifname" ? meta("iifname") : key.kind === "mark" ? meta("mark") : { "&": [ct("mark"), key.mask >>> 0] };
  const keyText = key.kind === "iifname" ? "iifname" : key.kind === "mark" ? "meta mark" : `ct mark & ${hex(key.mask)}`;
  const json = (k: JumpMapEntryKey) => (typeof k === "string" ? k : typeof k === "number" ? k >>> 0 : { range: [k[0] >>> 0, k[1] >>> 0] });
  const text = (k: JumpMapEntryKey) => (typeof k === "string" ? JSON.stringify(k) : typeof k === "number" ? hex(k) : `${hex(k[0])}-${hex(k[1])}`);
  return {
    json: { vmap: { key: keyJson, data: { set: entries.map(([k, chain]) => [json(k), { jump: { target: chain } }]) } } },
    text: `${keyText} vmap { ${entries.map(([k, chain]) => `${text(k)} : jump ${chain}`).join(", ")} }`,
  };
}

/** `oifname "a"` */
export function matchOifname(name: string): NftStatement {
  return { json: { match: { op: "==", left: meta("oifname"), right: name } }, text: `oifname ${JSON.stringify(name)}` };
}

function setMasked(target: "ct" | "meta", mask: number, value: number): NftStatement {
  const key = target === "ct" ? ct("mark") : meta("mark");
  const keep = ~mask >>> 0;
  return {
    json: { mangle: { key, value: { "|": [{ "&": [key, keep] }, value >>> 0] } } },
    text: `${target} mark set ${target} mark & ${hex(keep)} | ${hex(value)}`,
  };
}

/** `ct mark set ct mark & ~MASK | VALUE`: writes only symroute's bits. */
export function setCtMark(mask: number, value: number): NftStatement {
  return setMasked("ct", mask, value);
}

/** `meta mark set meta mark & ~MASK | VALUE`: writes only symroute's bits. */
export function setMetaMark(mask: number, value: number): NftStatement {
  return setMasked("meta", mask, value);
}

/** `ip saddr { ... }` / `ip6 saddr { ... }` */
export function matchSaddr(family: Family, prefixes: string[]): NftStatement {
  return matchAddress("saddr", family, prefixes);
}

/** `ip daddr ADDR` / `ip6 daddr { ... }` */
export function matchDaddr(family: Family, prefixes: string[]): NftStatement {
  return matchAddress("daddr", family, prefixes);
}

function matchAddress(field: "saddr" | "daddr", family: Family, prefixes: string[]): NftStatement {
  const proto = family === 4 ? "ip" : "ip6";
  const items = prefixes.map((p) => {
    const parsed = parsePrefix(p);
    if (!parsed) throw new Error(`not a prefix: ${p}`);
    return parsed;
  });
  const jsonItems = items.map((p) =>
    p.length === (family === 4 ? 32 : 128) ? formatPrefix(p) : { prefix: { addr: formatPrefix({ ...p, length: family === 4 ? 32 : 128 }), len: p.length } },
  );
  const right = jsonItems.length === 1 ? jsonItems[0] : { set: jsonItems };
  const textItems = items.map((p) => formatPrefix(p));
  const textRight = textItems.length === 1 ? textItems[0] : `{ ${textItems.join(", ")} }`;
  return {
    json: { match: { op: "==", left: { payload: { protocol: proto, field } }, right } },
    text: `${proto} ${field} ${textRight}`,
  };
}

/** `counter`: so `status` and `lb flows` can show what matched. */
export function counter(): NftStatement {
  return { json: { counter: null }, text: "counter" };
}

/** `ip saddr set ADDR` / `ip6 saddr set ADDR` (checksums follow). */
export function setSaddr(family: Family, address: string): NftStatement {
  const proto = family === 4 ? "ip" : "ip6";
  return { json: { mangle: { key: { payload: { protocol: proto, field: "saddr" } }, value: address } }, text: `${proto} saddr set ${address}` };
}

/** `notrack`: no connection tracking for the packet. */
export function notrack(): NftStatement {
  return { json: { notrack: null }, text: "notrack" };
}

/** `meta l4proto tcp` or `meta l4proto { tcp, udp }` */
export function matchL4proto(protocols: string[]): NftStatement {
  const right = protocols.length === 1 ? protocols[0] : { set: [...protocols] };
  const text = protocols.length === 1 ? protocols[0] : `{ ${protocols.join(", ")} }`;
  return { json: { match: { op: "==", left: meta("l4proto"), right } }, text: `meta l4proto ${text}` };
}

/** `th dport { 4000, 5000-5010 }` (or sport): ports as "N" or "N-M". */
export function matchPorts(field: "sport" | "dport", specs: string[]): NftStatement {
  const items = specs.map((s) => {
    const [a, b] = s.split("-").map(Number);
    return b === undefined || a === b ? a : { range: [a, b] };
  });
  const right = items.length === 1 ? items[0] : { set: items };
  const text = specs.length === 1 ? specs[0] : `{ ${specs.join(", ")} }`;
  return { json: { match: { op: "==", left: { payload: { protocol: "th", field } }, right } }, text: `th ${field} ${text}` };
}

/** `icmp type { ... }` / `icmpv6 type { ... }` */
export function matchIcmpType(family: Family, types: string[]): NftStatement {
  const proto = family === 4 ? "icmp" : "icmpv6";
  return {
    json: { match: { op: "==", left: { payload: { protocol: proto, field: "type" } }, right: { set: [...types] } } },
    text: `${proto} type { ${types.join(", ")} }`,
  };
}

/** `goto CHAIN` */
export function gotoChain(chain: string): NftStatement {
  return { json: { goto: { target: chain } }, text: `goto ${chain}` };
}

/** `drop` */
export function drop(): NftStatement {
  return { json: { drop: null }, text: "drop" };
}

/** One field of a jhash key: a header field or raw transport-header bits. */
export type HashField = { protocol: string; field: string } | { base: "th"; offset: number; len: number };

function hashFieldText(f: HashField): string {
  return "base" in f ? `@th,${f.offset},${f.len}` : `${f.protocol} ${f.field}`;
}

/** `meta mark set jhash KEY mod SIZE seed SEED`: the packet's entry in a Maglev table. */
export function hashIntoMark(key: HashField[], size: number, seed: number): NftStatement {
  const expr = key.length === 1 ? { payload: key[0] } : { concat: key.map((f) => ({ payload: f })) };
  return {
    json: { mangle: { key: meta("mark"), value: { jhash: { mod: size, seed: seed >>> 0, expr } } } },
    text: `meta mark set jhash ${key.map(hashFieldText).join(" . ")} mod ${size} seed 0x${(seed >>> 0).toString(16)}`,
  };
}

/** `meta mark vmap @MAP`: jump to the chain the entry names. */
export function markVmap(map: string): NftStatement {
  return { json: { vmap: { key: meta("mark"), data: `@${map}` } }, text: `meta mark vmap @${map}` };
}

/** `meta mark set VALUE`: the whole mark (the load balancer's hash held it a moment before). */
export function setWholeMark(value: number): NftStatement {
  return { json: { mangle: { key: meta("mark"), value: value >>> 0 } }, text: `meta mark set ${hex(value)}` };
}

/** `arp operation request` */
export function matchArpRequest(): NftStatement {
  return { json: { match: { op: "==", left: { payload: { protocol: "arp", field: "operation" } }, right: "request" } }, text: "arp operation request" };
}

/** `arp saddr ip set ADDR`: the sender address of the host's own ARP requests. */
export function setArpSaddr(address: string): NftStatement {
  return { json: { mangle: { key: { payload: { protocol: "arp", field: "saddr ip" } }, value: address } }, text: `arp saddr ip set ${address}` };
}

/** `masquerade` */
export function masquerade(): NftStatement {
  return { json: { masquerade: null }, text: "masquerade" };
}

/** `ct state new`: the first packet of a connection. */
export function matchCtStateNew(): NftStatement {
  return { json: { match: { op: "in", left: ct("state"), right: "new" } }, text: "ct state new" };
}

/** The number a packet draws to pick an entry: at random per packet, or a hash of its source address. */
export type DrawKey = { kind: "random"; mod: number } | { kind: "source"; family: Family; mod: number; seed: number };

/**
 * `numgen random mod N vmap { 0-2 : jump a, 3 : jump b }` or
 * `jhash ip saddr mod N seed S vmap { ... }`: a weighted choice among chains,
 * each entry an inclusive range of the drawn number.
 */
export function drawVmap(key: DrawKey, entries: [[number, number], string][]): NftStatement {
  const proto = key.kind === "source" ? (key.family === 4 ? "ip" : "ip6") : "";
  const keyJson =
    key.kind === "random"
      ? { numgen: { mode: "random", mod: key.mod, offset: 0 } }
      : { jhash: { mod: key.mod, seed: key.seed >>> 0, expr: { payload: { protocol: proto, field: "saddr" } } } };
  const keyText = key.kind === "random" ? `numgen random mod ${key.mod}` : `jhash ${proto} saddr mod ${key.mod} seed 0x${(key.seed >>> 0).toString(16)}`;
  const json = ([a, b]: [number, number]) => (a === b ? a : { range: [a, b] });
  const text = ([a, b]: [number, number]) => (a === b ? String(a) : `${a}-${b}`);
  return {
    json: { vmap: { key: keyJson, data: { set: entries.map(([k, chain]) => [json(k), { jump: { target: chain } }]) } } },
    text: `${keyText} vmap { ${entries.map(([k, chain]) => `${text(k)} : jump ${chain}`).join(", ")} }`,
  };
}

/** `ct mark & MASK == VALUE`: symroute's bits of the connection mark. */
export function matchCtMark(mask: number, value: number): NftStatement {
  return { json: { match: { op: "==", left: { "&": [ct("mark"), mask >>> 0] }, right: value >>> 0 } }, text: `ct mark & ${hex(mask)} == ${hex(value)}` };
}

/** The 4-tuple a flow set is keyed by, as JSON and text (the fast path forgets flows by it too). */
export function flowKey(family: 4 | 6): { json: Record<string, unknown>; text: string } {
  const ip = family === 4 ? "ip" : "ip6";
  return {
    json: { concat: [{ payload: { protocol: ip, field: "saddr" } }, { payload: { protocol: ip, field: "daddr" } }, { payload: { protocol: "th", field: "sport" } }, { payload: { protocol: "th", field: "dport" } }] },
    text: `${ip} saddr . ${ip} daddr . th sport . th dport`,
  };
}

/** `ip saddr . ip daddr . th sport . th dport @SET`: the flow is remembered in SET. */
export function matchRemembered(family: 4 | 6, set: string): NftStatement {
  const key = flowKey(family);
  return { json: { match: { op: "==", left: key.json, right: `@${set}` } }, text: `${key.text} @${set}` };
}

/**
 * `update @SET { ip saddr . ip daddr . th sport . th dport }`: remember the flow, or
 * refresh its timeout. A set per target rather than one map of flow to mark: this
 * nft's JSON has no statement that writes a map element from the packet path.
 */
export function rememberFlow(family: 4 | 6, set: string): NftStatement {
  const key = flowKey(family);
  return { json: { set: { op: "update", elem: key.json, set: `@${set}` } }, text: `update @${set} { ${key.text} }` };
}

/** `meta nfproto ipv4|ipv6` */
export function matchNfproto(family: 4 | 6): NftStatement {
  return { json: { match: { op: "==", left: meta("nfproto"), right: family === 4 ? "ipv4" : "ipv6" } }, text: `meta nfproto ipv${family}` };
}
