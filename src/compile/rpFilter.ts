/**
 * rp_filter off where `all` is stricter: the kernel uses max(all, iface), so
 * `all` goes to 0, and every other interface (and `default`, for interfaces
 * yet to come) is pinned to the value it had in effect. `destroy` undoes all.
 */
import type { HostFacts } from "../model/facts.js";
import type { Sysctl } from "../model/sysctl.js";
import { ipv4Conf } from "../model/sysctl.js";

/**
 * The sysctls that turn rp_filter off on `devices` (`zeros`, which win over any
 * other setting of those interfaces) and keep the rest in effect as it was
 * (`lowering`, which loses to an interface's own explicit setting).
 */
export function rpFilterOff(devices: string[], facts: HostFacts): { zeros: Sysctl[]; lowering: Sysctl[] } {
  const off = new Set(devices);
  const zeros: Sysctl[] = [...off].map((dev) => ({ key: ipv4Conf(dev, "rp_filter"), value: "0", why: `rp_filter off on ${dev}` }));
  const all = facts.rpFilter["all"] ?? 0;
  const out: Sysctl[] = [];
  if (off.size === 0 || all === 0) return { zeros, lowering: out };
  out.push({ key: ipv4Conf("all", "rp_filter"), value: "0", why: "rp_filter off: the kernel takes the larger of all and the interface" });
  for (const [dev, value] of Object.entries(facts.rpFilter).sort(([a], [b]) => a.localeCompare(b))) {
    if (dev === "all" || off.has(dev)) continue;
    const effective = Math.max(all, value);
    if (effective !== value) out.push({ key: ipv4Conf(dev, "rp_filter"), value: String(effective), why: `keeps ${dev} at the rp_filter it had while all was ${all}` });
  }
  return { zeros, lowering: out };
}

/**
 * The host as it was before symroute: rp_filter values symroute changed are
 * replaced by the originals kept in the state. Compile decides from these, so
 * lowering `all` does not change the facts that decided to lower it (on a host
 * where `all` is 1 or 2, reading the live 0 undid the change on every second apply).
 */
export function hostAsBefore(facts: HostFacts, sysctlOriginals: Record<string, string>): HostFacts {
  const rpFilter = { ...facts.rpFilter };
  for (const [key, value] of Object.entries(sysctlOriginals)) {
    const m = /^net\/ipv4\/conf\/(.+)\/rp_filter$/.exec(key);
    if (m && m[1] in rpFilter && /^[0-9]+$/.test(value)) rpFilter[m[1]] = Number(value);
  }
  return { ...facts, rpFilter };
}
