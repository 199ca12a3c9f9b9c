/**
 * `assignment: stable`: for frontends that keep their previous table. Only
 * the entries of removed targets move, a new target takes an even share from
 * the others, and every target ends within one entry of its even share. Pure;
 * the previous table comes from the state of the last apply.
 */

/** Rebalances `previous` (owner per entry) onto `targets`, moving as few entries as possible. */
export function stableTable(previous: string[], targets: string[], size: number): string[] {
  const names = [...new Set(targets)].sort();
  if (names.length === 0) return new Array<string>(size).fill("");
  const prev = previous.length === size ? previous : new Array<string>(size).fill("");
  const alive = new Set(names);
  const held = new Map<string, number[]>(names.map((n) => [n, []]));
  prev.forEach((owner, i) => {
    if (alive.has(owner)) held.get(owner)!.push(i);
  });
  // who gets the rounded-up share: those holding most now, so fewest entries move
  const base = Math.floor(size / names.length);
  const extra = size % names.length;
  const byHolding = [...names].sort((a, b) => held.get(b)!.length - held.get(a)!.length || a.localeCompare(b));
  const quota = new Map<string, number>(byHolding.map((n, i) => [n, base + (i < extra ? 1 : 0)]));

  const table = new Array<string>(size).fill("");
  const free: number[] = [];
  for (const n of names) {
    const entries = held.get(n)!;
    const keep = quota.get(n)!;
    entries.forEach((i, k) => {
      if (k < keep) table[i] = n;
      else free.push(i);
    });
  }
  prev.forEach((owner, i) => {
    if (!alive.has(owner)) free.push(i);
  });
  free.sort((a, b) => a - b);
  const count = new Map<string, number>(names.map((n) => [n, Math.min(held.get(n)!.length, quota.get(n)!)]));
  let cursor = 0;
  for (const i of free) {
    // round-robin over those below quota, in name order
    for (let step = 0; step < names.length; step++) {
      const n = names[(cursor + step) % names.length];
      if (count.get(n)! < quota.get(n)!) {
        table[i] = n;
        count.set(n, count.get(n)! + 1);
        cursor = (cursor + step + 1) % names.length;
        break;
      }
    }
  }
  return table;
}
