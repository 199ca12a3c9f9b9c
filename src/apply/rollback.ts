/**
 * Puts a snapshot back: symroute's rules, routes, nft table and the sysctls a
 * failed change touched, exactly as they were.
 */
import type { Runner } from "../kernel/runner.js";
import type { IdRange } from "../config/resolved.js";
import { readLive } from "../kernel/live.js";
import { makePlan, isEmptyPlan } from "../plan/plan.js";
import { recreateCommands, runNftTransaction } from "../kernel/nft.js";
import { deleteTableCommands } from "../model/nftTable.js";
import { runIpBatch, type BatchLine } from "../kernel/ipWrite.js";
import { writeSysctls } from "../kernel/sysctl.js";
import { batchLines } from "./execute.js";
import { NFT_TABLE } from "../compile/index.js";
import type { Snapshot } from "./snapshot.js";
import { extraWords } from "../model/extra.js";
import { structureOf, withAppliedElements } from "../plan/nftListing.js";
import type { NftTable } from "../model/nftTable.js";

/** The tables applied before the change: they supply the map elements a terse snapshot leaves out. */
export type PreviousTables = { nft?: NftTable | null; nftArp?: NftTable | null; nftNetdev?: NftTable | null };

/** Restores the snapshot; true when a read-back shows the kernel as it was. */
export async function rollback(runner: Runner, snapshot: Snapshot, priorities: IdRange, previous?: PreviousTables): Promise<boolean> {
  const keys = Object.keys(snapshot.sysctls);
  const live = await readLive(runner, keys, undefined, true, false);
  // a terse snapshot takes its map elements from the tables applied before; without them the table is left as it is
  let missing = false;
  const complete = (listing: Snapshot["nft"] | undefined, table: NftTable | null | undefined): Snapshot["nft"] | undefined => {
    if (!listing || !snapshot.nftElementsApplied) return listing ?? null;
    const full = table ? withAppliedElements(listing, table) : null;
    if (!full) missing = true;
    return full ?? undefined;
  };
  const inet = complete(snapshot.nft, previous?.nft);
  const arp = complete(snapshot.nftArp, previous?.nftArp);
  const netdev = complete(snapshot.nftNetdev, previous?.nftNetdev);
  // a table the change did not touch stays as it is: recreating it would reset its counters for nothing
  if (inet !== undefined && snapshot.nftTouched !== false) await restoreTable(runner, "inet", live.nft, inet);
  if (arp !== undefined && snapshot.nftArpTouched !== false) await restoreTable(runner, "arp", live.nftArp ?? null, arp);
  // a listing has no ingress chain's device: the table applied before knows it, and without it the chain cannot be made
  const netdevFull = netdev ? withChainDevices(netdev, previous?.nftNetdev) : netdev;
  if (netdev && !netdevFull) missing = true;
  if (netdevFull !== undefined && snapshot.nftNetdevTouched === true) await restoreTable(runner, "netdev", live.nftNetdev ?? null, netdevFull);
  const target = {
    rules: snapshot.rules,
    routes: snapshot.routes,
    sysctls: Object.entries(snapshot.sysctls).map(([key, value]) => ({ key, value })),
    nft: null,
    links: [],
    requires: [],
  };
  const plan = makePlan({ desired: target, live: { ...live, nft: null, nftArp: null, nftNetdev: null }, applied: null, sysctlOriginals: {}, priorities, holdConflicts: false });
  for (const family of [4, 6] as const) {
    // a failing line stops a batch; retry line by line so one bad line does not stop the rest of the restore
    const lines: BatchLine[] = batchLines(plan, family);
    await runIpBatch(runner, family, lines).catch(async () => {
      for (const line of lines) await runIpBatch(runner, family, [line]).catch(() => undefined);
    });
  }
  for (const e of snapshot.addedExtras ?? []) await runIpBatch(runner, e.family, [extraWords(e, "del")]).catch(() => undefined);
  for (const e of snapshot.removedExtras ?? []) await runIpBatch(runner, e.family, [extraWords(e, "add")]).catch(() => undefined);
  await writeSysctls(runner, snapshot.sysctls).catch(() => undefined);
  for (const ifname of snapshot.createdLinks ?? []) await runner.run(["ip", "link", "del", ifname], { allowFailure: true });
  const after = await readLive(runner, keys, undefined, true, false);
  const check = makePlan({ desired: target, live: { ...after, nft: null, nftArp: null, nftNetdev: null }, applied: null, sysctlOriginals: {}, priorities, holdConflicts: false });
  // listings compared by structure: a terse one has no map elements to compare
  const same = (a: Snapshot["nft"] | undefined, b: Snapshot["nft"] | undefined) => JSON.stringify(a ? structureOf(a) : null) === JSON.stringify(b ? structureOf(b) : null);
  return !missing && isEmptyPlan(check) && same(after.nft, snapshot.nft) && same(after.nftArp, snapshot.nftArp) && (snapshot.nftNetdevTouched !== true || same(after.nftNetdev, snapshot.nftNetdev));
}

/** Puts one of symroute's tables back as listed in the snapshot (or removes it). */
async function restoreTable(runner: Runner, family: "inet" | "arp" | "netdev", now: unknown, then: Snapshot["nft"] | null): Promise<void> {
  // a terse listing cannot show whether map elements changed: put a table back whenever there was one
  if (!now && !then) return;
  const t = { family, name: NFT_TABLE };
  const commands = then ? [{ add: { table: t } }, { delete: { table: t } }, ...recreateCommands(then)] : deleteTableCommands(family, NFT_TABLE);
  await runNftTransaction(runner, commands).catch(() => undefined);
}

/** A netdev listing with each ingress chain's device put back from the table applied before; null when one is unknown. */
function withChainDevices(listing: NonNullable<Snapshot["nft"]>, applied: NftTable | null | undefined): NonNullable<Snapshot["nft"]> | null {
  const devices = new Map((applied?.chains ?? []).filter((c) => c.dev).map((c) => [c.name, c.dev!]));
  let unknown = false;
  const out = listing.map((o) => {
    if (!o.chain || o.chain.hook !== "ingress" || "dev" in o.chain) return o;
    const dev = devices.get(String(o.chain.name));
    if (!dev) unknown = true;
    return { chain: { ...o.chain, dev } };
  });
  return unknown ? null : out;
}
