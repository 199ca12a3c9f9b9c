/**
 * The kernel reads every apply and plan starts with, begun before the config
 * is parsed so the processes run while node is busy with YAML.
 */
import type { Runner } from "../kernel/runner.js";
import { readIpState, type IpState } from "../kernel/ipState.js";
import { readLiveObjects, type LiveObjects } from "../kernel/live.js";
import { readFacts } from "../kernel/facts.js";
import type { HostFacts } from "../model/facts.js";

/** Reads under way. */
export interface Reads {
  ip: Promise<IpState>;
  objects: Promise<LiveObjects>;
  facts: Promise<HostFacts>;
}

/** Starts the reads; failures surface where the results are awaited. */
export function startReads(runner: Runner): Reads {
  const ip = readIpState(runner);
  // the arp table is listed too: whether the config wants one is not known yet
  const reads = { ip, objects: readLiveObjects(runner, ip, true, false), facts: readFacts(runner, ip) };
  for (const p of Object.values(reads)) (p as Promise<unknown>).catch(() => undefined);
  return reads;
}

/** The rp_filter values facts already hold, as sysctl keys, so plan need not read them again. */
export function rpFilterKeys(facts: HostFacts): Record<string, string> {
  return Object.fromEntries(Object.entries(facts.rpFilter).map(([dev, v]) => [`net/ipv4/conf/${dev}/rp_filter`, String(v)]));
}
