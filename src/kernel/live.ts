/**
 * Reads everything plan needs from the kernel in a handful of processes,
 * started together.
 */
import type { Runner } from "./runner.js";
import type { LiveState } from "../plan/live.js";
import { readNftTable } from "./nft.js";
import { readSysctls } from "./sysctl.js";
import { readIpState, type IpState } from "./ipState.js";
import { NFT_TABLE } from "../compile/index.js";

/** Everything but sysctls, whose keys depend on the compiled config. */
export type LiveObjects = Omit<LiveState, "sysctls">;

/** Reads rules, routes, symroute's nft table and interface names (reusing an ip read under way). */
export async function readLiveObjects(runner: Runner, ip?: Promise<IpState>): Promise<LiveObjects> {
  const [state, nft] = await Promise.all([ip ?? readIpState(runner), readNftTable(runner, "inet", NFT_TABLE)]);
  return { rules: state.rules, routes: state.routes, nft, interfaces: Object.keys(state.links) };
}

/** Reads the objects (or takes ones already being read) and the given sysctls. */
export async function readLive(runner: Runner, sysctlKeys: string[], objects?: Promise<LiveObjects>): Promise<LiveState> {
  const [o, sysctls] = await Promise.all([objects ?? readLiveObjects(runner), readSysctls(runner, [...new Set(sysctlKeys)])]);
  return { ...o, sysctls };
}
