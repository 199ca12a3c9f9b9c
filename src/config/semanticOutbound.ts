/**
 * Checks of `outbound`: names used once, uplinks that exist and can carry
 * every family of the `from` prefixes, prefixes written as networks.
 */
import type { Config } from "./schema.js";
import type { PathIssue } from "./semantic.js";
import { isNetworkAligned, parsePrefix } from "../net/ip.js";

/** Every problem in the outbound policies. */
export function checkOutbound(config: Config): PathIssue[] {
  const issues: PathIssue[] = [];
  const add = (path: (string | number)[], message: string) => issues.push({ path, message });
  const uplinks = new Map(config.uplinks.map((u) => [u.name, u]));
  const names = new Set<string>();
  config.outbound.forEach((ob, i) => {
    const base = ["outbound", i];
    if (names.has(ob.name)) add([...base, "name"], `duplicate outbound name '${ob.name}'`);
    names.add(ob.name);
    const families = new Set<4 | 6>();
    const seenFrom = new Set<string>();
    ob.from.forEach((text, j) => {
      const p = parsePrefix(text);
      if (!p) return;
      families.add(p.family);
      if (!isNetworkAligned(p)) add([...base, "from", j], `${text} has host bits set; write the network address`);
      if (seenFrom.has(text.toLowerCase())) add([...base, "from", j], `${text} is listed twice`);
      seenFrom.add(text.toLowerCase());
    });
    if (ob.uplinks !== undefined && ob.uplinks.length === 0) add([...base, "uplinks"], "must name at least one uplink (leave it out for all uplinks)");
    if (ob.uplinks === undefined && config.uplinks.length === 0) add([...base, "uplinks"], "there are no uplinks to share connections over");
    const seen = new Set<string>();
    const chosen = ob.uplinks ?? config.uplinks.map((u) => u.name);
    chosen.forEach((name, j) => {
      const path = ob.uplinks ? [...base, "uplinks", j] : base;
      const uplink = uplinks.get(name);
      if (!uplink) {
        const known = [...uplinks.keys()];
        add(path, `no uplink named '${name}'${known.length ? ` (known: ${known.slice(0, 10).join(", ")}${known.length > 10 ? ", ..." : ""})` : ""}`);
        return;
      }
      if (seen.has(name)) add(path, `uplink ${name} is listed twice`);
      seen.add(name);
      if (families.has(4) && !uplink.gateway) add(path, `uplink ${name} has no gateway, but from has IPv4 prefixes`);
      if (families.has(6) && !uplink.gateway6) add(path, `uplink ${name} has no gateway6, but from has IPv6 prefixes`);
    });
  });
  return issues;
}
