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

/** Restores the snapshot; true when a read-back shows the kernel as it was. */
export async function rollback(runner: Runner, snapshot: Snapshot, priorities: IdRange): Promise<boolean> {
  const keys = Object.keys(snapshot.sysctls);
  const live = await readLive(runner, keys);
  await restoreTable(runner, "inet", live.nft, snapshot.nft);
  await restoreTable(runner, "arp", live.nftArp ?? null, snapshot.nftArp ?? null);
  const target = {
    rules: snapshot.rules,
    routes: snapshot.routes,
    sysctls: Object.entries(snapshot.sysctls).map(([key, value]) => ({ key, value })),
    nft: null,
    links: [],
    requires: [],
  };
  const plan = makePlan({ desired: target, live: { ...live, nft: null, nftArp: null }, applied: null, sysctlOriginals: {}, priorities });
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
  const after = await readLive(runner, keys);
  const check = makePlan({ desired: target, live: { ...after, nft: null, nftArp: null }, applied: null, sysctlOriginals: {}, priorities });
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  return isEmptyPlan(check) && same(after.nft, snapshot.nft) && same(after.nftArp, snapshot.nftArp);
}

/** Puts one of symroute's tables back as listed in the snapshot (or removes it). */
async function restoreTable(runner: Runner, family: "inet" | "arp", now: unknown, then: Snapshot["nft"] | null): Promise<void> {
  if (JSON.stringify(now ?? null) === JSON.stringify(then ?? null)) return;
  const t = { family, name: NFT_TABLE };
  const commands = then ? [{ add: { table: t } }, { delete: { table: t } }, ...recreateCommands(then)] : deleteTableCommands(family, NFT_TABLE);
  await runNftTransaction(runner, commands).catch(() => undefined);
}
