/**
 * Reads everything plan needs from the kernel in a handful of processes.
 */
import type { Runner } from "./runner.js";
import type { LiveState } from "../plan/live.js";
import { readRoutes, readRules } from "./ipRead.js";
import { readNftTable } from "./nft.js";
import { readSysctls } from "./sysctl.js";
import { NFT_TABLE } from "../compile/index.js";

/** Reads rules, routes, symroute's nft table, the given sysctls and interface names. */
export async function readLive(runner: Runner, sysctlKeys: string[]): Promise<LiveState> {
  const [rules, routes, nft, sysctls, links] = await Promise.all([
    readRules(runner),
    readRoutes(runner),
    readNftTable(runner, "inet", NFT_TABLE),
    readSysctls(runner, [...new Set(sysctlKeys)]),
    runner.run(["ip", "-j", "link", "show"]),
  ]);
  const interfaces = (JSON.parse(links.stdout || "[]") as { ifname: string }[]).map((l) => l.ifname);
  return { rules, routes, nft, sysctls, interfaces };
}
