/**
 * Reads everything plan needs from the kernel in a handful of processes,
 * started together.
 */
import type { Runner } from "./runner.js";
import type { LiveState } from "../model/live.js";
import { readNftStructure, readNftTable } from "./nft.js";
import { readSysctls } from "./sysctl.js";
import { readIpState, type IpState } from "./ipState.js";
import { NFT_TABLE } from "../model/ownership.js";
import type { Extra } from "../model/extra.js";
import { formatAddress, parsePrefix } from "../net/ip.js";

/** Everything but sysctls, whose keys depend on the compiled config. */
export type LiveObjects = Omit<LiveState, "sysctls">;

/**
 * Reads rules, routes, symroute's nft tables and interface names (reusing an
 * ip read under way). The arp table is read only when it may exist (`withArp`):
 * one process less on every plan and verify of configs without routed networks.
 * With `elements: false` both tables come from one terse listing, without the
 * elements of named sets and maps (the Maglev tables), which plan does not need
 * (see plan/nftListing.ts) and which cost a full listing seconds for large balancers.
 */
export async function readLiveObjects(runner: Runner, ip?: Promise<IpState>, withArp = true, elements = true): Promise<LiveObjects> {
  const tables = elements
    ? Promise.all([readNftTable(runner, "inet", NFT_TABLE), withArp ? readNftTable(runner, "arp", NFT_TABLE) : Promise.resolve(null), readNftTable(runner, "netdev", NFT_TABLE)])
    : readNftStructure(runner, NFT_TABLE).then((t) => [t.inet, t.arp, t.netdev] as const);
  const [state, [nft, nftArp, nftNetdev]] = await Promise.all([ip ?? readIpState(runner), tables]);
  return { rules: state.rules, routes: state.routes, nft, nftArp, nftNetdev, extras: extrasOf(state), interfaces: Object.keys(state.links) };
}

/** Addresses and proxies as Extra objects, to compare with desired ones. */
function extrasOf(state: IpState): Extra[] {
  const out: Extra[] = [];
  for (const [dev, { addresses }] of Object.entries(state.links))
    for (const a of addresses) {
      const p = parsePrefix(a);
      if (p) out.push({ kind: "addr", family: p.family, dev, address: `${formatAddress(p)}/${p.length}` });
    }
  for (const p of state.proxies) out.push({ kind: "neighProxy", family: 6, dev: p.dev, address: p.dst });
  return out;
}

/** Reads the objects (or takes ones already being read) and the given sysctls. */
export async function readLive(runner: Runner, sysctlKeys: string[], objects?: Promise<LiveObjects>, withArp = true, elements = true): Promise<LiveState> {
  const [o, sysctls] = await Promise.all([objects ?? readLiveObjects(runner, undefined, withArp, elements), readSysctls(runner, [...new Set(sysctlKeys)])]);
  return { ...o, sysctls };
}
