/**
 * Gathers HostFacts: interface addresses and rp_filter values.
 */
import type { Runner } from "./runner.js";
import type { HostFacts } from "../model/facts.js";
import { readSysctls } from "./sysctl.js";

interface JsonAddr {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/** Reads the host's interfaces, addresses and rp_filter settings. */
export async function readFacts(runner: Runner): Promise<HostFacts> {
  const res = await runner.run(["ip", "-j", "addr", "show"]);
  const rows = JSON.parse(res.stdout || "[]") as JsonAddr[];
  const links: HostFacts["links"] = {};
  for (const row of rows) {
    links[row.ifname] = { addresses: (row.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`) };
  }
  const names = ["all", "default", ...Object.keys(links)];
  const values = await readSysctls(runner, names.map((n) => `net/ipv4/conf/${n}/rp_filter`));
  const rpFilter: Record<string, number> = {};
  for (const n of names) {
    const v = values[`net/ipv4/conf/${n}/rp_filter`];
    if (v !== undefined) rpFilter[n] = Number(v);
  }
  return { links, rpFilter };
}
