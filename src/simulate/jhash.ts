/**
 * The kernel's jhash (Bob Jenkins' lookup3, as include/linux/jhash.h has it)
 * and nft's mapping of a hash onto `mod N`: `(hash * N) >> 32`, not
 * `hash % N`. With these the simulator names the load balancer's target.
 */

const rol = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

function mix(a: number, b: number, c: number): [number, number, number] {
  a = (a - c) >>> 0; a = (a ^ rol(c, 4)) >>> 0; c = (c + b) >>> 0;
  b = (b - a) >>> 0; b = (b ^ rol(a, 6)) >>> 0; a = (a + c) >>> 0;
  c = (c - b) >>> 0; c = (c ^ rol(b, 8)) >>> 0; b = (b + a) >>> 0;
  a = (a - c) >>> 0; a = (a ^ rol(c, 16)) >>> 0; c = (c + b) >>> 0;
  b = (b - a) >>> 0; b = (b ^ rol(a, 19)) >>> 0; a = (a + c) >>> 0;
  c = (c - b) >>> 0; c = (c ^ rol(b, 4)) >>> 0; b = (b + a) >>> 0;
  return [a, b, c];
}

function final(a: number, b: number, c: number): number {
  c = (c ^ b) >>> 0; c = (c - rol(b, 14)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol(c, 11)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol(a, 25)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol(b, 16)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol(c, 4)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol(a, 14)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol(b, 24)) >>> 0;
  return c >>> 0;
}

const u32le = (k: Uint8Array, i: number) => (k[i] | (k[i + 1] << 8) | (k[i + 2] << 16) | (k[i + 3] << 24)) >>> 0;

/** jhash(key, length, initval) over bytes, as the kernel computes it on little-endian machines. */
export function jhash(key: Uint8Array, initval: number): number {
  let length = key.length;
  let a = (0xdeadbeef + length + initval) >>> 0;
  let b = a;
  let c = a;
  let i = 0;
  while (length > 12) {
    a = (a + u32le(key, i)) >>> 0;
    b = (b + u32le(key, i + 4)) >>> 0;
    c = (c + u32le(key, i + 8)) >>> 0;
    [a, b, c] = mix(a, b, c);
    length -= 12;
    i += 12;
  }
  if (length === 0) return c;
  const tail = new Uint8Array(12);
  tail.set(key.subarray(i, i + length));
  a = (a + u32le(tail, 0)) >>> 0;
  b = (b + u32le(tail, 4)) >>> 0;
  c = (c + u32le(tail, 8)) >>> 0;
  return final(a, b, c);
}

/** nft's `jhash ... mod N`: reciprocal_scale, (hash * N) >> 32. */
export function scaleToMod(hash: number, mod: number): number {
  return Number((BigInt(hash >>> 0) * BigInt(mod)) >> 32n);
}
