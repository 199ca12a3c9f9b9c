/**
 * Checks of `bgp` that need more than one field: neighbours listed twice, the
 * router id, VIPs a session could never carry.
 */
import type { Config } from "./schema.js";
import type { PathIssue } from "./semantic.js";
import { parseAddress } from "../net/ip.js";

/** Every problem in the bgp section. */
export function checkBgp(config: Config): PathIssue[] {
  const bgp = config.bgp;
  if (!bgp) return [];
  const issues: PathIssue[] = [];
  const seen = new Set<string>();
  const vips = config.loadBalancers.flatMap((lb) => lb.vips);
  const families = new Set(vips.map((v) => parseAddress(v)?.family));
  if (!vips.length) issues.push({ path: ["bgp"], message: "no load balancer has a VIP: the speaker will announce nothing", warning: true });
  bgp.neighbors.forEach((n, i) => {
    const a = parseAddress(n.address);
    if (!a) return;
    const key = a.value.toString();
    if (seen.has(key)) issues.push({ path: ["bgp", "neighbors", i, "address"], message: `neighbour ${n.address} is listed twice` });
    seen.add(key);
    if (n.address === bgp.routerId) issues.push({ path: ["bgp", "neighbors", i, "address"], message: `neighbour ${n.address} is this speaker's own router id` });
    if (vips.length && !families.has(a.family))
      issues.push({ path: ["bgp", "neighbors", i, "address"], message: `an IPv${a.family} session carries the IPv${a.family} VIPs, and no load balancer has one`, warning: true });
  });
  return issues;
}
