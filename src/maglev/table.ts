/**
 * Maglev consistent hashing (Eisenbud et al., NSDI 2016, section 3.4): each
 * target walks its own permutation of the table and claims the next free
 * entry, round-robin, until the table is full. Pure and deterministic: targets
 * are taken in name order, so any order of the same set builds the same table.
 */
import { offsetHash, skipHash } from "./hash.js";

/** A target's permutation parameters. */
export interface Permutation {
  offset: number;
  skip: number;
}

/** The permutation of a named target in a table of size M (the paper's offset and skip). */
export function permutationOf(name: string, size: number): Permutation {
  return { offset: offsetHash(name) % size, skip: (skipHash(name) % (size - 1)) + 1 };
}

/**
 * Fills a table from explicit permutations (as the paper's Table 1 gives them).
 * Entry i holds the index of the permutation that owns it.
 */
export function populate(perms: Permutation[], size: number): number[] {
  const entry = new Array<number>(size).fill(-1);
  if (perms.length === 0) return entry;
  const next = new Array<number>(perms.length).fill(0);
  let filled = 0;
  for (;;) {
    for (let i = 0; i < perms.length; i++) {
      const { offset, skip } = perms[i];
      let c = (offset + next[i] * skip) % size;
      while (entry[c] >= 0) {
        next[i] += 1;
        c = (offset + next[i] * skip) % size;
      }
      entry[c] = i;
      next[i] += 1;
      filled += 1;
      if (filled === size) return entry;
    }
  }
}

/** The Maglev table of named targets: entry i holds the owner's name. */
export function maglevTable(targets: string[], size: number): string[] {
  if (new Set(targets).size !== targets.length) throw new Error("target names must be unique");
  const names = [...targets].sort();
  const perms = names.map((n) => permutationOf(n, size));
  return populate(perms, size).map((i) => names[i]);
}

/** True for primes: Maglev needs a prime size so every skip visits every entry. */
export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/** The smallest prime at least `n`. */
export function nextPrime(n: number): number {
  let p = Math.max(2, Math.ceil(n));
  while (!isPrime(p)) p += 1;
  return p;
}

/**
 * The default size for N targets: the first prime after the power of two that
 * holds 100 N entries (257, 521, 1031, 2053, 4099, ...). Sizes come in classes
 * so that adding or removing a target rarely changes the size: a new size
 * would reshuffle the whole table.
 */
export function defaultSize(targetCount: number): number {
  let power = 256;
  while (power < 100 * targetCount) power *= 2;
  return nextPrime(power);
}
