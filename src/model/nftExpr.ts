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

const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;
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

/** `oifname "a"` */
export function matchOifname(name: string): NftStatement {
  return { json: { match: { op: "==", left: meta("oifname"), right: name } }, text: `oifname ${JSON.stringify(name)}` };
}

/** `ct mark & MASK == VALUE` */
export function matchCtMark(mask: number, value: number): NftStatement {
  return {
    json: { match: { op: "==", left: { "&": [ct("mark"), mask >>> 0] }, right: value >>> 0 } },
    text: `ct mark & ${hex(mask)} == ${hex(value)}`,
  };
}

/** `meta mark & MASK == VALUE` */
export function matchMetaMark(mask: number, value: number): NftStatement {
  return {
    json: { match: { op: "==", left: { "&": [meta("mark"), mask >>> 0] }, right: value >>> 0 } },
    text: `meta mark & ${hex(mask)} == ${hex(value)}`,
  };
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
    json: { match: { op: "==", left: { payload: { protocol: proto, field: "saddr" } }, right } },
    text: `${proto} saddr ${textRight}`,
  };
}

/** `counter`: so `status` and `lb flows` can show what matched. */
export function counter(): NftStatement {
  return { json: { counter: null }, text: "counter" };
}
