/**
 * nftables through libnftables JSON only (`nft -j`), so no config string is
 * ever parsed as nft syntax. Reads symroute's table, sends transactions.
 */
import type { Runner } from "./runner.js";

type NftObject = Record<string, Record<string, unknown>>;

/**
 * The objects of one table as `nft -j list table` prints them, without
 * handles; null when absent. Stateless by default (counters as `null`), so
 * traffic through the table does not look like a change to it.
 */
export async function readNftTable(runner: Runner, family: string, name: string, stateless = true): Promise<NftObject[] | null> {
  const res = await runner.run(["nft", "-j", ...(stateless ? ["-s"] : []), "list", "table", family, name], { allowFailure: true });
  if (res.code !== 0) {
    if (/No such file|does not exist/i.test(res.stderr)) return null;
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

/** Commands that recreate a listed table exactly (for rollback). */
export function recreateCommands(objects: NftObject[]): Record<string, unknown>[] {
  return objects.map((o) => ({ add: o }));
}

/** Sends one transaction: all commands apply, or none. */
export async function runNftTransaction(runner: Runner, commands: Record<string, unknown>[]): Promise<void> {
  if (commands.length === 0) return;
  await runner.run(["nft", "-j", "-f", "-"], { stdin: JSON.stringify({ nftables: commands }) });
}
