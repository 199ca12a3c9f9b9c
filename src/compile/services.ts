/**
 * Seed 000: local service addresses pinned to the uplink that serves them,
 * with the four strategies of the seed: source rules, marks, static routes
 * to the clients, or a VRF holding the uplink with a veth leg.
 */
import type { ResolvedConfig } from "../config/resolved.js";
import type { Service, Uplink } from "../config/schema.js";
import { matchSaddr, setMetaMark } from "../model/nftExpr.js";
import { canonicalAddress, canonicalPrefix, parseAddress } from "../net/ip.js";
import type { Allocation } from "./allocate.js";
import { emptyPart, MANGLE_PRIO, type Part } from "./parts.js";

/** Compiles every service. */
export function compileServices(resolved: ResolvedConfig, alloc: Allocation): Part {
  const part = emptyPart();
  const { config } = resolved;
  let vrfIndex = 0;
  const marked = new Map<string, string[]>();
  const uplinks = new Map(config.uplinks.map((u) => [u.name, u]));
  const clientRoutes = new Set<string>();
  for (const service of config.services) {
    const uplink = uplinks.get(service.uplink)!;
    const table = alloc.uplinkTable.get(uplink.name)!;
    switch (service.strategy) {
      case "source":
        for (const a of service.addresses) {
          const family = parseAddress(a)!.family;
          part.rules.push({ group: "source", family, table, src: canonicalAddress(a), why: `service ${service.name}: pinned to ${uplink.name}` });
        }
        break;
      case "mark":
        // pushed in place: copying the list per service made many services on one uplink quadratic
        if (!marked.has(uplink.name)) marked.set(uplink.name, []);
        marked.get(uplink.name)!.push(...service.addresses);
        break;
      case "static":
        for (const c of service.clients ?? []) {
          // two services on one uplink may share clients: one route serves both (a set: a scan of the routes per client was quadratic)
          if (clientRoutes.has(canonicalPrefix(c))) continue;
          clientRoutes.add(canonicalPrefix(c));
          const family = parseAddress(c.split("/")[0])!.family;
          const gateway = family === 4 ? uplink.gateway! : canonicalAddress(uplink.gateway6!);
          part.routes.push({ family, table: 254, dst: canonicalPrefix(c), gateway, dev: uplink.interface, why: `service ${service.name}: clients reached by ${uplink.name}` });
        }
        break;
      case "vrf":
        compileVrf(service, uplink, alloc, vrfIndex++, part);
        break;
    }
  }
  compileMarks(marked, alloc, part);
  return part;
}

/**
 * The mark strategy: one rule per uplink and family, matching a set of all the
 * addresses pinned to it, so a thousand services load as a few rules.
 */
function compileMarks(marked: Map<string, string[]>, alloc: Allocation, part: Part): void {
  if (marked.size === 0) return;
  part.chains.push({ name: "output", type: "route", hook: "output", prio: MANGLE_PRIO, policy: "accept" });
  for (const [uplink, addresses] of marked) {
    const mark = alloc.uplinkMark.get(uplink)!;
    for (const family of [4, 6] as const) {
      const addrs = addresses.filter((a) => parseAddress(a)!.family === family);
      if (addrs.length === 0) continue;
      part.nftRules.push({
        chain: "output",
        statements: [matchSaddr(family, addrs), setMetaMark(alloc.markMask, mark)],
        comment: `services pinned to ${uplink}`,
      });
    }
  }
}

/**
 * The seed's VRF layout: the uplink enslaved to a VRF whose table defaults to
 * the uplink's gateway; a veth pair joins the VRF to the default VRF; replies
 * from the service address are ruled into a table that points at the veth.
 */
function compileVrf(service: Service, uplink: Uplink, alloc: Allocation, index: number, part: Part): void {
  const [vrfTable, defaultTable] = alloc.vrfTables.get(service.name)!;
  const vrf = `srvrf${index}`;
  const legDefault = `srv${index}d`;
  const legVrf = `srv${index}v`;
  const base = `169.254.${200 + Math.floor(index / 64)}.${(index % 64) * 4}`;
  const octets = base.split(".").map(Number);
  const addrDefault = `${octets[0]}.${octets[1]}.${octets[2]}.${octets[3] + 1}`;
  const addrVrf = `${octets[0]}.${octets[1]}.${octets[2]}.${octets[3] + 2}`;
  part.requires.push("vrf");
  part.sysctls.push({ key: "net/ipv4/ip_forward", value: "1", why: `service ${service.name}: traffic crosses from the VRF to the default VRF` });
  part.links.push(
    { kind: "vrf", ifname: vrf, table: vrfTable, members: [uplink.interface] },
    { kind: "veth", ifname: legDefault, peer: legVrf, peerMaster: vrf, address: `${addrDefault}/30`, peerAddress: `${addrVrf}/30` },
  );
  const why = `service ${service.name}: vrf ${vrf}`;
  if (uplink.gateway) part.routes.push({ family: 4, table: vrfTable, dst: "default", gateway: uplink.gateway, dev: uplink.interface, why });
  part.routes.push({ family: 4, table: defaultTable, dst: "default", gateway: addrVrf, dev: legDefault, why });
  for (const a of service.addresses) {
    const family = parseAddress(a)!.family;
    if (family !== 4) {
      part.warnings.push(`service ${service.name}: the vrf strategy handles IPv4 only; ${a} is left out`);
      continue;
    }
    part.routes.push({ family: 4, table: vrfTable, dst: canonicalAddress(a), gateway: addrDefault, dev: legVrf, why });
    part.rules.push({ group: "source", family: 4, table: defaultTable, src: canonicalAddress(a), why });
  }
}
