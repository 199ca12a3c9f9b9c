/**
 * Gratuitous ARP for instances that just arrived on this host, so the router
 * and the other hosts update their caches at once (what the seed does with
 * arpsend). The host holds no address of the instance, so `arping` needs
 * ip_nonlocal_bind for the moment it sends; the old value is put back.
 */
import type { Runner } from "./runner.js";
import { readSysctls, writeSysctls } from "./sysctl.js";

const NONLOCAL = "net/ipv4/ip_nonlocal_bind";

/** Sends one unsolicited ARP per address on its interface; returns the addresses announced. */
export async function announce(runner: Runner, entries: { dev: string; address: string }[]): Promise<string[]> {
  if (entries.length === 0) return [];
  const before = (await readSysctls(runner, [NONLOCAL]))[NONLOCAL] ?? "0";
  const done: string[] = [];
  try {
    if (before !== "1") await writeSysctls(runner, { [NONLOCAL]: "1" });
    for (const e of entries) {
      const r = await runner.run(["arping", "-q", "-U", "-c", "1", "-I", e.dev, "-s", e.address, e.address], { allowFailure: true });
      if (r.code === 0) done.push(e.address);
    }
  } finally {
    if (before !== "1") await writeSysctls(runner, { [NONLOCAL]: before });
  }
  return done;
}
