/**
 * Stable 32-bit hashes of target names (FNV-1a over UTF-8, two bases), so every
 * frontend and every reload derives the same Maglev permutation from a name.
 */

const encoder = new TextEncoder();

/** FNV-1a, 32 bits, with a chosen offset basis. */
export function fnv1a32(text: string, basis = 0x811c9dc5): number {
  let h = basis >>> 0;
  for (const byte of encoder.encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // final avalanche (murmur3 fmix32): FNV's low bits are weak for mod small primes
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** Maglev's `offset` hash of a name. */
export function offsetHash(name: string): number {
  return fnv1a32(name, 0x811c9dc5);
}

/** Maglev's `skip` hash of a name: an independent basis. */
export function skipHash(name: string): number {
  return fnv1a32(name, 0x050c5d1f);
}
