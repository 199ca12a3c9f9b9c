/**
 * nftables through libnftables JSON only (`nft -j`), so no config string is
 * ever parsed as nft syntax. Reads symroute's table, sends transactions.
 */
import type { Runner } from "./runner.js";

import type { NftObject } from "../model/nftTable.js";

/**
 * The objects of one table as `nft -j list table` prints them, without
 * handles; null when absent. Stateless by default (counters as `null`), so
 * traffic through the table does not look like a change to it.
 */
export async function readNftTable(runner: Runner, family: string, name: string, stateless = true): Promise<NftObject[] | null> {
  const res = await runner.run(["nft", "-j", ...(stateless ? ["-s"] : []), "list", "table", family, name], { allowFailure: true });
  if (res.code !== 0) {
    // only nft's own "no such table" means absent; a failed exec (`ip netns exec`: "exec of nft failed: No such file") is an error
    if (/^Error: (No such file or directory|Could not process rule: No such file)/m.test(res.stderr) && !/exec of /.test(res.stderr)) return null;
    throw new Error(`nft list table ${family} ${name} failed: ${res.stderr.trim()}`);
  }
  const parsed = JSON.parse(res.stdout) as { nftables: NftObject[] };
  return parsed.nftables.filter((o) => !("metainfo" in o)).map(stripHandles);
}

function stripHandles(obj: NftObject): NftObject {
  const out: NftObject = {};
  for (const [kind, body] of Object.entries(obj)) {
    const { handle: _h, ...rest } = body;
    out[kind] = rest;
  }
  return out;
}

/**
 * Both of symroute's tables (inet and arp) from one terse listing of the
 * ruleset: everything but the elements of named sets and maps, in a few
 * milliseconds however large the Maglev tables are (a full listing costs nft
 * about 5 µs an element, and `nft -t list table` still fetches them all;
 * `-t list ruleset` does not). Counters are left out as in readNftTable.
 */
export async function readNftStructure(runner: Runner, name: string, stateless = true): Promise<{ inet: NftObject[] | null; arp: NftObject[] | null; netdev: NftObject[] | null }> {
  const res = await runner.run(["nft", "-j", "-t", ...(stateless ? ["-s"] : []), "list", "ruleset"]);
  const objects = (JSON.parse(res.stdout) as { nftables: NftObject[] }).nftables;
  const ofTable = (family: string): NftObject[] | null => {
    const own = objects.filter((o) => {
      const body = Object.values(o)[0];
      return body.family === family && (o.table ? body.name === name : body.table === name);
    });
    return own.length ? own.map(stripHandles) : null;
  };
  return { inet: ofTable("inet"), arp: ofTable("arp"), netdev: ofTable("netdev") };
}

/**
 * Commands that recreate a listed table exactly (for rollback). A listing puts
 * maps before chains, but a verdict map's elements jump to chains, which must
 * exist first (nft fails the whole transaction otherwise): chains go first.
 */
export function recreateCommands(objects: NftObject[]): Record<string, unknown>[] {
  const order = (o: NftObject) => (o.table ? 0 : o.set ? 1 : o.chain ? 2 : o.map ? 3 : 4);
  return objects
    .map((o, i) => ({ o, i }))
    .sort((a, b) => order(a.o) - order(b.o) || a.i - b.i)
    .map(({ o }) => ({ add: o }));
}

/** Sends one transaction: all commands apply, or none. */
export async function runNftTransaction(runner: Runner, commands: Record<string, unknown>[]): Promise<void> {
  if (commands.length === 0) return;
  await runner.run(["nft", "-j", "-f", "-"], { stdin: JSON.stringify({ nftables: commands }) });
}

/**
 * How many elements each named set of symroute's inet (or netdev) table holds now (flow
 * memory: filled by packets). One listing per set: a set's elements cost nft
 * about 5 µs each to list, so only the sets asked for are read. A set that
 * does not exist counts as absent from the answer.
 */
export async function countSetElements(runner: Runner, table: string, names: string[], family: "inet" | "netdev" = "inet"): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  await Promise.all(
    names.map(async (name) => {
      const res = await runner.run(["nft", "-j", "list", "set", family, table, name], { allowFailure: true });
      if (res.code !== 0) return;
      const listing = JSON.parse(res.stdout) as { nftables: { set?: { elem?: unknown[] } }[] };
      out.set(name, listing.nftables.find((o) => o.set)?.set?.elem?.length ?? 0);
    }),
  );
  return out;
}

/**
 * Which of the given flow sets remembers the flow (src . dst . sport . dport):
 * the name of the first that does, or null. The key's parts are parsed
 * addresses and port numbers, never text from a file.
 */
export async function findRememberedFlow(runner: Runner, table: string, sets: { name: string; set: string }[], key: { src: string; dst: string; sport: number; dport: number }, family: "inet" | "netdev" = "inet"): Promise<string | null> {
  const element = `{ ${key.src} . ${key.dst} . ${key.sport} . ${key.dport} }`;
  const hits = await Promise.all(sets.map(async (s) => (await runner.run(["nft", "get", "element", family, table, s.set, element], { allowFailure: true })).code === 0));
  const i = hits.indexOf(true);
  return i >= 0 ? sets[i].name : null;
}
