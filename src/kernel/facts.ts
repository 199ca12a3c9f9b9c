/**
 * Gathers HostFacts: interface addresses and rp_filter values.
 */
import type { Runner } from "./runner.js";
import type { HostFacts } from "../model/facts.js";
import { readSysctls } from "./sysctl.js";
import { readIpState, type IpState } from "./ipState.js";

/** Reads the host's interfaces, addresses and rp_filter settings (reusing an ip read under way). */
export async function readFacts(runner: Runner, ip?: Promise<IpState>): Promise<HostFacts> {
  const { links } = await (ip ?? readIpState(runner));
  const names = ["all", "default", ...Object.keys(links)];
  const values = await readSysctls(runner, names.map((n) => `net/ipv4/conf/${n}/rp_filter`));
  const rpFilter: Record<string, number> = {};
  for (const n of names) {
    const v = values[`net/ipv4/conf/${n}/rp_filter`];
    if (v !== undefined) rpFilter[n] = Number(v);
  }
  return { links, rpFilter };
}
