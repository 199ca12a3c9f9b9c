/**
 * IP address and prefix arithmetic on bigints. Pure, so config checks, compile
 * and the plan can compare addresses the way the kernel prints them.
 */

export type Family = 4 | 6;

/** One parsed address: family and its value as an unsigned integer. */
export interface Address {
  family: Family;
  value: bigint;
  /** IPv4 only: the value as a plain number, for hot paths */
  n?: number;
}

/** An address with a prefix length, as in `10.0.0.0/24`. */
export interface Prefix extends Address {
  length: number;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };

/** Bits in an address of the family. */
export function familyBits(family: Family): number {
  return BITS[family];
}

/**
 * Dotted quad to a number, one pass over the characters: config checks and
 * compile parse every address several times, and split, a regex and four
 * bigint shifts per address were a tenth of validating a large file.
 * Refuses leading zeros ("01"), as iproute2's canonical form has none.
 */
function parseV4Number(text: string): number | null {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || ++dots > 3) return null;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      continue;
    }
    if (c < 0x30 || c > 0x39 || (digits > 0 && part === 0)) return null;
    part = part * 10 + (c - 0x30);
    digits++;
    if (part > 255) return null;
  }
  if (digits === 0 || dots !== 3) return null;
  return value * 256 + part;
}

function parseV4(text: string): bigint | null {
  const n = parseV4Number(text);
  return n === null ? null : BigInt(n);
}

function parseV6(text: string): bigint | null {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseV4(p);
        if (v4 === null) return null;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
      out.push(parseInt(p, 16));
    }
    return out;
  };
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  if (head === null || tail === null) return null;
  let groups: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - tail.length;
    if (fill < 1) return null;
    groups = [...head, ...new Array<number>(fill).fill(0), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return null;
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/** Parses an IPv4 or IPv6 address; null when it is neither. */
export function parseAddress(text: string): Address | null {
  const v4 = parseV4Number(text);
  if (v4 !== null) return { family: 4, value: BigInt(v4), n: v4 };
  if (text.includes(":")) {
    const v6 = parseV6(text);
    if (v6 !== null) return { family: 6, value: v6 };
  }
  return null;
}

/** Parses `addr/len` or a bare address (taken as a host prefix). */
export function parsePrefix(text: string): Prefix | null {
  const slash = text.indexOf("/");
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const address = parseAddress(addrText);
  if (!address) return null;
  const max = BITS[address.family];
  let length = max;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText)) return null;
    length = Number(lenText);
    if (length > max) return null;
  }
  return { ...address, length };
}

function computeMask(family: Family, length: number): bigint {
  const bits = BITS[family];
  if (length === 0) return 0n;
  return ((1n << BigInt(length)) - 1n) << BigInt(bits - length);
}

const MASKS: Record<Family, bigint[]> = {
  4: Array.from({ length: 33 }, (_, l) => computeMask(4, l)),
  6: Array.from({ length: 129 }, (_, l) => computeMask(6, l)),
};
/** IPv4 masks as plain numbers: the simulator's hot path avoids bigint arithmetic. */
const MASKS4: number[] = Array.from({ length: 33 }, (_, l) => (l === 0 ? 0 : (0xffffffff << (32 - l)) | 0));

/** The mask of a prefix length as an integer of the family's width. */
export function prefixMask(family: Family, length: number): bigint {
  return MASKS[family][length];
}

/** The network part of a prefix: host bits cleared. */
export function networkOf(prefix: Prefix): Prefix {
  const value = prefix.value & prefixMask(prefix.family, prefix.length);
  return prefix.family === 4 ? { ...prefix, value, n: Number(value) } : { ...prefix, value };
}

/** True when the prefix has no host bits set. */
export function isNetworkAligned(prefix: Prefix): boolean {
  return networkOf(prefix).value === prefix.value;
}

/** True when `inner` lies entirely inside `outer`. */
export function prefixContains(outer: Prefix, inner: Prefix | Address): boolean {
  if (outer.family !== inner.family) return false;
  const innerLength = "length" in inner ? inner.length : BITS[inner.family];
  if (innerLength < outer.length) return false;
  if (outer.family === 4) return (((outer.n ?? Number(outer.value)) ^ (inner.n ?? Number(inner.value))) & MASKS4[outer.length]) === 0;
  const mask = prefixMask(outer.family, outer.length);
  return (outer.value & mask) === (inner.value & mask);
}

/** True when two prefixes share at least one address. */
export function prefixesOverlap(a: Prefix, b: Prefix): boolean {
  return prefixContains(a, b) || prefixContains(b, a);
}

/** Formats an address the way iproute2 and nft print it (RFC 5952 for IPv6). */
export function formatAddress(address: Address): string {
  if (address.family === 4) {
    const v = address.value;
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join(".");
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((address.value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  const head = hex.slice(0, bestStart).join(":");
  const tail = hex.slice(bestStart + bestLen).join(":");
  return `${head}::${tail}`;
}

/** Formats a prefix; host prefixes print as a bare address, as `ip -j` does. */
export function formatPrefix(prefix: Prefix, bareHost = true): string {
  const addr = formatAddress(prefix);
  if (bareHost && prefix.length === BITS[prefix.family]) return addr;
  return `${addr}/${prefix.length}`;
}

/** Canonical text for an address string, or the input unchanged when it does not parse. */
export function canonicalAddress(text: string): string {
  const a = parseAddress(text);
  return a ? formatAddress(a) : text;
}

/** Canonical text for a prefix string (`default` for a zero-length prefix, as `ip -j` prints). */
export function canonicalPrefix(text: string): string {
  if (text === "default") return text;
  const p = parsePrefix(text);
  if (!p) return text;
  if (p.length === 0) return "default";
  return formatPrefix(networkOf(p));
}
