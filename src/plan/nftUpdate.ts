/**
 * A change of load-balancer targets as a few nft commands instead of a whole
 * new table: target chains added or removed, and only the Maglev map entries
 * that change owner rewritten, all in one transaction. Applies when nothing
 * else in the table differs.
 */
type Cmd = Record<string, Record<string, Record<string, unknown>>>;

const TARGET_CHAIN = /_t_[0-9a-f]{8}$/;

interface Parts {
  rest: string;
  targets: Map<string, string[]>;
  maps: Map<string, Map<number, string>>;
  family: string;
  table: string;
}

function split(commands: Record<string, unknown>[]): Parts | null {
  const cmds = commands as Cmd[];
  const head = cmds[0]?.add?.table as { family: string; name: string } | undefined;
  if (!head) return null;
  const rest: unknown[] = [];
  const targets = new Map<string, string[]>();
  const maps = new Map<string, Map<number, string>>();
  for (const c of cmds.slice(3)) {
    if (!c.add) return null;
    const [kind, obj] = Object.entries(c.add)[0];
    if (kind === "chain" && TARGET_CHAIN.test(String(obj.name))) targets.set(String(obj.name), targets.get(String(obj.name)) ?? []);
    else if (kind === "rule" && TARGET_CHAIN.test(String(obj.chain))) targets.set(String(obj.chain), [...(targets.get(String(obj.chain)) ?? []), JSON.stringify(obj)]);
    else if (kind === "map") {
      const elems = new Map<number, string>();
      for (const [k, v] of (obj.elem as [number, { jump: { target: string } }][]) ?? []) elems.set(k, v.jump.target);
      maps.set(String(obj.name), elems);
      rest.push({ map: { ...obj, elem: undefined } });
    } else rest.push(c);
  }
  return { rest: JSON.stringify(rest), targets, maps, family: head.family, table: head.name };
}

/** The commands that turn `prev` (a whole-table command list) into `next`, or null when more than targets changed. */
export function targetUpdateCommands(prev: Record<string, unknown>[], next: Record<string, unknown>[]): { commands: Record<string, unknown>[]; entries: number; chains: number } | null {
  const a = split(prev);
  const b = split(next);
  if (!a || !b || a.rest !== b.rest || a.family !== b.family || a.table !== b.table) return null;
  const t = { family: b.family, table: b.table };
  const commands: Record<string, unknown>[] = [];
  let chains = 0;
  for (const [name, rules] of b.targets) {
    const before = a.targets.get(name);
    if (before && JSON.stringify(before) === JSON.stringify(rules)) continue;
    chains++;
    commands.push(before ? { flush: { chain: { ...t, name } } } : { add: { chain: { ...t, name } } });
    for (const r of rules) commands.push({ add: { rule: JSON.parse(r) as unknown } });
  }
  let entries = 0;
  for (const [name, elems] of b.maps) {
    const old = a.maps.get(name) ?? new Map<number, string>();
    const remove = [...old.keys()].filter((k) => elems.get(k) !== old.get(k));
    const add = [...elems.entries()].filter(([k, chain]) => old.get(k) !== chain);
    entries += add.length;
    if (remove.length) commands.push({ delete: { element: { ...t, name, elem: remove } } });
    if (add.length) commands.push({ add: { element: { ...t, name, elem: add.map(([k, chain]) => [k, { jump: { target: chain } }]) } } });
  }
  for (const name of a.targets.keys()) {
    if (b.targets.has(name)) continue;
    chains++;
    commands.push({ flush: { chain: { ...t, name } } }, { delete: { chain: { ...t, name } } });
  }
  return { commands, entries, chains };
}
