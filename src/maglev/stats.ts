/**
 * Balance and disruption of a table, for `symroute maglev`, `lb show` and the
 * property tests.
 */
import { maglevTable } from "./table.js";

/** Entries per target, in name order. */
export function shares(table: string[], targets: string[]): { name: string; entries: number }[] {
  const counts = new Map<string, number>([...targets].sort().map((t) => [t, 0]));
  for (const owner of table) if (counts.has(owner)) counts.set(owner, counts.get(owner)! + 1);
  return [...counts.entries()].map(([name, entries]) => ({ name, entries }));
}

/** Fraction of entries whose owner differs between two tables of one size. */
export function movedFraction(before: string[], after: string[]): number {
  let moved = 0;
  for (let i = 0; i < before.length; i++) if (before[i] !== after[i]) moved += 1;
  return moved / before.length;
}

/** For each target, the fraction of the table that changes owner when it is removed. */
export function removalDisruption(targets: string[], size: number): { removed: string; moved: number }[] {
  const full = maglevTable(targets, size);
  return [...targets].sort().map((removed) => ({
    removed,
    moved: movedFraction(full, maglevTable(targets.filter((t) => t !== removed), size)),
  }));
}
