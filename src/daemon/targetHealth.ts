/**
 * Health of load-balancer targets under `symroute run`: a TCP connect to each
 * checked target's via address (and via6) every interval, sent from the
 * conduit's own address so it goes the way balanced packets go. Targets that
 * fail `down` times in a row are an input to compile (they leave the Maglev
 * table in one in-place change); `up` successes bring them back.
 */
import type { ResolvedConfig } from "../config/resolved.js";
import { durationMs } from "../config/schema.js";
import { targetKey } from "../compile/allocate.js";
import type { CheckMethod, CheckSettings } from "./health.js";
import type { TargetCheck, LoadBalancer } from "../config/schema.js";

type Target = LoadBalancer["targets"][number];
import { readIpState } from "../engine/index.js";
import { ProcessRunner } from "../engine/index.js";
import { sourcesOf, type Checked, type CheckedView } from "./probedHealth.js";
import { parseTargetKey } from "../model/names.js";

/** A target's health as the API shows it; `key` is "BALANCER/TARGET". */
export interface TargetHealthView extends CheckedView {
  balancer: string;
  target: string;
}

/** What to probe for the config's checked targets, keyed "BALANCER/TARGET". */
export async function targetChecks(resolved: ResolvedConfig, netns: string | undefined): Promise<Checked[]> {
  const checked = resolved.config.loadBalancers.flatMap((lb) => lb.targets.filter((t) => t.check).map((t) => ({ lb, t })));
  const links = checked.length ? (await readIpState(new ProcessRunner(netns))).links : {};
  return checked.map(({ lb, t }) => {
    const c = t.check!;
    const intervalMs = durationMs(c.interval) ?? 250;
    const settings: CheckSettings = {
      // a command runs once a round, given the first address; the connecting checks try each family
      targets: [t.via, t.via6].filter((a): a is string => !!a).slice(0, c.command ? 1 : 2),
      method: methodOf(c, t, links[t.interface]?.addresses ?? []),
      intervalMs,
      timeoutMs: (c.timeout ? durationMs(c.timeout) : null) ?? Math.round(intervalMs / 2),
      down: c.down,
      up: c.up,
      holdMs: 0,
    };
    return { key: targetKey(lb.name, t.name), settings, sources: sourcesOf(links[t.interface]?.addresses ?? []) };
  });
}

/** How a target's check probes: the schema guarantees exactly one of tcp, http, command. */
function methodOf(c: TargetCheck, t: Target, addresses: string[]): CheckMethod {
  if (c.http) return { kind: "http", ...c.http };
  if (c.command) {
    const src = sourcesOf(addresses);
    const env: Record<string, string> = { SYMROUTE_TARGET: t.name, SYMROUTE_INTERFACE: t.interface };
    if (t.via) env.SYMROUTE_VIA = t.via;
    if (t.via6) env.SYMROUTE_VIA6 = t.via6;
    const source = src.source4 ?? src.source6;
    if (source) env.SYMROUTE_SOURCE = source;
    return { kind: "command", argv: c.command, env };
  }
  return { kind: "tcp", port: c.tcp! };
}

/** The API's view of a target's health. */
export function targetView(v: CheckedView): TargetHealthView {
  const { balancer, target } = parseTargetKey(v.key);
  return { balancer, target, ...v };
}
