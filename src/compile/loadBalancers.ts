/**
 * Seeds 002/003, kept in the kernel: a VIP's flows are classified by nft, each
 * flow hashed with `jhash` (explicit seed) into the Maglev table, which jumps
 * to the target's chain; that chain sets the target's mark, and `ip rule
 * fwmark` sends the packet to the target's own table (`default via TARGET`).
 * Replies from the VIPs leave by `from VIP lookup <egress table>`. With
 * `fastPath`, fastPath.ts repeats the same decision at ingress (netdev table).
 */
import type { ResolvedConfig } from "../config/resolved.js";
import type { LoadBalancer } from "../config/schema.js";
import type { NftRule } from "../model/nftTable.js";
import type { BalancerInfo, FastFlow } from "../model/balancer.js";
import { matchNfproto, rememberFlow } from "../model/nftExpr.js";
import { durationMs } from "../config/schema.js";
import { counter, drop, gotoChain, hashIntoMark, matchDaddr, notrack, setSaddr, setWholeMark, matchIcmpType, matchL4proto, matchPorts, matchSaddr } from "../model/nftExpr.js";
import { canonicalAddress, parseAddress, parsePrefix, type Family } from "../net/ip.js";
import { defaultSize, maglevTable } from "../maglev/table.js";
import { stableTable } from "../maglev/stable.js";
import type { HostFacts } from "../model/facts.js";
import { HASH_KEYS, MAP_CHUNK, PORT_PROTOCOLS, balancerSeed, flowSetName, maglevMaps, memoryChains, targetChain } from "./lbShared.js";
import { compileFastPath, type FastPart } from "./fastPath.js";
import { targetKey, type Allocation } from "./allocate.js";
import { emptyPart, type Part } from "./parts.js";
import { lbComment } from "../model/names.js";

/**
 * Where load balancers hook in: nft's `raw` priority, after defragmentation
 * (-400) and before connection tracking (-200), so one chain both marks the
 * packet and keeps conntrack out of the way.
 */
export const LB_PRIO = -300;

const ICMP_ERRORS: Record<Family, string[]> = {
  4: ["destination-unreachable", "time-exceeded"],
  6: ["destination-unreachable", "packet-too-big", "time-exceeded"],
};

/** Re-exported for the readers of flow sets and chains (lb show, trace, benches). */
export { MAP_CHUNK, balancerSeed, flowSetName, targetChain };

/** Compiles every load balancer; `previous` holds the tables of the last apply (for `assignment: stable`). */
export function compileLoadBalancers(resolved: ResolvedConfig, alloc: Allocation, previous: Record<string, string[]>, downTargets: ReadonlySet<string> = new Set(), drainingTargets: ReadonlySet<string> = new Set(), facts: HostFacts = { links: {}, rpFilter: {} }): Part & { balancers: BalancerInfo[]; fast: FastPart } {
  const part = emptyPart();
  const balancers: BalancerInfo[] = [];
  const fast: FastPart = { maps: [], chains: [], nftRules: [], flowSets: [], ingress: new Map(), refusals: [] };
  const { config } = resolved;
  if (config.loadBalancers.length === 0) return { ...part, balancers, fast };
  part.chains.push(
    { name: "lb_prerouting", type: "filter", hook: "prerouting", prio: LB_PRIO, policy: "accept" },
    { name: "lb_output", type: "filter", hook: "output", prio: LB_PRIO, policy: "accept" },
  );
  config.loadBalancers.forEach((lb, k) => balancers.push(compileOne(lb, k, alloc, previous[lb.name], part, downTargets, drainingTargets, fast, facts)));
  // a ct expression is what makes the kernel track (and so defragment) in this namespace; notrack
  // alone does not. In a chain nothing jumps to, it costs no packet anything.
  part.chains.push({ name: "lb_defrag" });
  part.nftRules.push({ chain: "lb_defrag", statements: [{ json: { match: { op: "in", left: { ct: { key: "state" } }, right: "untracked" } }, text: "ct state untracked" }], comment: "turns on defragmentation" });
  return { ...part, balancers, fast };
}

function compileOne(lb: LoadBalancer, index: number, alloc: Allocation, previous: string[] | undefined, part: Part, downTargets: ReadonlySet<string>, drainingTargets: ReadonlySet<string>, fast: FastPart, facts: HostFacts): BalancerInfo {
  const prefix = `lb${index}`;
  const targets = [...lb.targets].sort((a, b) => a.name.localeCompare(b.name));
  // targets whose health checks failed leave the table (their chains, marks and tables stay, so coming back
  // is the same in-place change); with every target down the table keeps them all: dropping would serve no one
  const down = new Set(targets.filter((t) => downTargets.has(`${lb.name}/${t.name}`)).map((t) => t.name));
  // drained targets take no new flow but keep the ones they remember
  const draining = new Set(targets.filter((t) => drainingTargets.has(`${lb.name}/${t.name}`) && !down.has(t.name)).map((t) => t.name));
  if (down.size + draining.size === targets.length && targets.length > 0) {
    part.warnings.push(`load balancer ${lb.name}: every target is down or drained; all stay in the table`);
    down.clear();
    draining.clear();
  } else {
    if (down.size > 0) part.warnings.push(`load balancer ${lb.name}: target${down.size > 1 ? "s" : ""} ${[...down].join(", ")} down; left out of the table`);
    if (draining.size > 0) part.warnings.push(`load balancer ${lb.name}: target${draining.size > 1 ? "s" : ""} ${[...draining].join(", ")} drained: no new flows${lb.flowMemory ? "" : " (no flow memory: its flows move now)"}`);
  }
  const out = (n: string) => down.has(n) || draining.has(n);
  const names = targets.map((t) => t.name).filter((n) => !out(n));
  // the size follows the configured targets, not the live ones: a target going down must not reshuffle the table;
  // a balancer that takes registrations sizes for 64 targets, so the first few registered ones do not either
  const size = lb.maglev.size ?? defaultSize(Math.max(1, targets.length, lb.registration ? 64 : 0));
  const memory = lb.flowMemory ? { timeout: Math.round((durationMs(lb.flowMemory.timeout) ?? 120_000) / 1000), size: lb.flowMemory.size } : null;
  const seed = balancerSeed(lb.name);
  const table = names.length === 0 ? [] : lb.assignment === "stable" && previous?.length === size ? stableTable(previous, names, size) : maglevTable(names, size);
  // named after the target, not its position: a target that comes or goes leaves the others' chains alone
  const chainOf = new Map(targets.map((t) => [t.name, targetChain(prefix, t.name)]));
  const families = new Set(lb.vips.map((v) => parseAddress(v)!.family));
  if (memory) part.flowSets ??= [];

  for (const t of targets) {
    const key = targetKey(lb.name, t.name);
    const mark = alloc.targetMark.get(key)!;
    const tableId = alloc.targetTable.get(key)!;
    part.chains.push({ name: chainOf.get(t.name)! });
    part.nftRules.push({ chain: chainOf.get(t.name)!, statements: [setWholeMark(mark), counter()], comment: lbComment(lb.name, { kind: "target", target: t.name }) });
    if (memory)
      for (const family of [4, 6] as const) {
        if (!families.has(family) || !(family === 4 ? t.via : t.via6)) continue;
        const set = flowSetName(chainOf.get(t.name)!, family);
        part.flowSets!.push({ name: set, family, timeout: memory.timeout, size: memory.size });
        part.nftRules.push({ chain: chainOf.get(t.name)!, statements: [matchNfproto(family), matchL4proto(PORT_PROTOCOLS), rememberFlow(family, set)], comment: lbComment(lb.name, { kind: "memory", target: t.name }) });
      }
    const why = `load balancer ${lb.name}: target ${t.name}`;
    if (t.via) {
      part.routes.push({ family: 4, table: tableId, dst: "default", gateway: t.via, dev: t.interface, why });
      part.rules.push({ group: "fwmark", family: 4, table: tableId, fwmark: mark, fwmask: alloc.markMask, why });
    }
    if (t.via6) {
      part.routes.push({ family: 6, table: tableId, dst: "default", gateway: canonicalAddress(t.via6), dev: t.interface, why });
      part.rules.push({ group: "fwmark", family: 6, table: tableId, fwmark: mark, fwmask: alloc.markMask, why });
    }
    part.rpFilterOff.push(t.interface);
  }

  // a target without an address of a family serves only the other family: each family hashes over its own targets
  const servable = (family: 4 | 6) => targets.filter((t) => (family === 4 ? t.via : t.via6) && !out(t.name)).map((t) => t.name);
  const tableOf = (family: 4 | 6): string[] => {
    const own = servable(family);
    if (own.length === names.length) return table;
    return own.length === 0 ? [] : maglevTable(own, size);
  };
  const table4 = families.has(4) ? tableOf(4) : table;
  const table6 = families.has(6) ? tableOf(6) : table;
  for (const family of [4, 6] as const) {
    if (!families.has(family)) continue;
    const entries = (family === 4 ? table4 : table6).map((owner) => chainOf.get(owner)!);
    const vips = lb.vips.filter((v) => parseAddress(v)!.family === family).map(canonicalAddress);

    // ICMP errors the frontend itself sends about a packet to a VIP (too big for a conduit,
    // TTL run out) speak for the VIP: the client only knows that address
    for (const vip of vips)
      part.nftRules.push({ chain: "lb_output", statements: [...localErrorAbout(family, vip), setSaddr(family, vip)], comment: lbComment(lb.name, { kind: "local errors" }) });
    const inChain = `${prefix}_in${family}`;
    part.chains.push({ name: inChain });
    // stateless: no connection tracking for the VIPs' traffic either way (defragmentation still runs first, at -400);
    // the VIPs are listed in the rules, not in a named set, so a listing without set elements still shows them
    part.nftRules.push(
      { chain: "lb_prerouting", statements: [matchDaddr(family, vips), notrack(), gotoChain(inChain)], comment: lbComment(lb.name, { kind: "to vip" }) },
      { chain: "lb_prerouting", statements: [matchSaddr(family, vips), notrack()], comment: lbComment(lb.name, { kind: "replies" }) },
    );
    if (entries.length > 0) {
      const lookup = maglevMaps(lb.name, `${prefix}_m${family}`, `${prefix}_part${family}`, entries, part);
      for (const kind of ["ports", "ping", "error"] as const) {
        part.chains.push({ name: `${prefix}_${kind}${family}` });
        part.nftRules.push({ chain: `${prefix}_${kind}${family}`, statements: [hashIntoMark(HASH_KEYS[kind][family], size, seed), lookup], comment: lbComment(lb.name, { kind: "lookup" }) });
      }
      if (memory) {
        // a remembered flow goes to its target before any hashing; the chains are rewritten in place as targets change
        const recalled = targets.filter((t) => (family === 4 ? t.via : t.via6) && !down.has(t.name)).map((t) => ({ target: t.name, chain: chainOf.get(t.name)!, set: flowSetName(chainOf.get(t.name)!, family) }));
        memoryChains(lb.name, family, { recall: `${prefix}_recall${family}`, syn: `${prefix}_syn${family}`, ports: `${prefix}_ports${family}` }, recalled, part);
      }
      // flows in priority order; ICMP errors ahead of the first ICMP flow (port flows never match them)
      const errorRule: NftRule = { chain: inChain, statements: [matchIcmpType(family, ICMP_ERRORS[family]), gotoChain(`${prefix}_error${family}`)], comment: lbComment(lb.name, { kind: "errors follow" }) };
      let errorPlaced = false;
      for (const rule of [...lb.flows].sort((a, b) => a.priority - b.priority).flatMap((flow) => flowRules(lb, flow, family, inChain, prefix, !!memory))) {
        if (!errorPlaced && rule.icmp) {
          part.nftRules.push(errorRule);
          errorPlaced = true;
        }
        part.nftRules.push(rule.rule);
      }
      if (!errorPlaced) part.nftRules.push(errorRule);
    }
    part.nftRules.push({ chain: inChain, statements: [counter(), drop()], comment: lbComment(lb.name, { kind: "no flow" }) });
    part.sysctls.push(family === 4 ? { key: "net/ipv4/ip_forward", value: "1", why: `load balancer ${lb.name} forwards` } : { key: "net/ipv6/conf/all/forwarding", value: "1", why: `load balancer ${lb.name} forwards` });
  }

  compileFastPath(
    {
      lb,
      index,
      prefix,
      size,
      seed,
      memory,
      families: ([4, 6] as const)
        .filter((f) => families.has(f))
        .map((family) => ({
          family,
          vips: lb.vips.filter((v) => parseAddress(v)!.family === family).map(canonicalAddress),
          owners: family === 4 ? table4 : table6,
          targets: targets.flatMap((t) => {
            const via = family === 4 ? t.via : t.via6 && canonicalAddress(t.via6);
            return via ? [{ name: t.name, chain: chainOf.get(t.name)!, via, interface: t.interface, recalled: !down.has(t.name) }] : [];
          }),
        })),
    },
    facts,
    fast,
  );

  if (lb.egress) {
    const egressTable = alloc.egressTable.get(lb.name)!;
    const why = `load balancer ${lb.name}: replies from the VIPs`;
    if (lb.egress.gateway) part.routes.push({ family: 4, table: egressTable, dst: "default", gateway: lb.egress.gateway, dev: lb.egress.interface, why });
    if (lb.egress.gateway6) part.routes.push({ family: 6, table: egressTable, dst: "default", gateway: canonicalAddress(lb.egress.gateway6), dev: lb.egress.interface, why });
    for (const vip of lb.vips) part.rules.push({ group: "source", family: parseAddress(vip)!.family, table: egressTable, src: canonicalAddress(vip), why });
  }

  return {
    name: lb.name,
    size,
    seed,
    assignment: lb.assignment,
    vips: lb.vips.map(canonicalAddress),
    ...(memory ? { flowMemory: memory } : {}),
    targets: targets.map((t) => ({
      name: t.name,
      ...(down.has(t.name) ? { state: "down" as const } : draining.has(t.name) ? { state: "draining" as const } : {}),
      mark: alloc.targetMark.get(targetKey(lb.name, t.name))!,
      table: alloc.targetTable.get(targetKey(lb.name, t.name))!,
      chain: chainOf.get(t.name)!,
      interface: t.interface,
      ...(t.via ? { via: t.via } : {}),
      ...(t.via6 ? { via6: canonicalAddress(t.via6) } : {}),
    })),
    flows: lb.flows.map((f) => f.name),
    ...(lb.fastPath ? { fastPath: { ingress: [...lb.fastPath.ingress], flows: fastFlows(lb) } } : {}),
    table: table4,
    ...(families.has(6) && table6 !== table ? { table6 } : {}),
  };
}

/** Matches an ICMP error whose quoted packet was addressed to `vip`. */
function localErrorAbout(family: Family, vip: string) {
  const addr = parseAddress(vip)!;
  const offset = family === 4 ? 192 : 256;
  const len = family === 4 ? 32 : 128;
  const raw = { json: { match: { op: "==", left: { payload: { base: "th", offset, len } }, right: `0x${addr.value.toString(16).padStart(len / 4, "0")}` } }, text: `@th,${offset},${len} 0x${addr.value.toString(16).padStart(len / 4, "0")}` };
  return [matchIcmpType(family, ICMP_ERRORS[family]), raw];
}

/** The rules of one flow for one family: split into port protocols and ICMP, which hash differently. */
function flowRules(lb: LoadBalancer, flow: LoadBalancer["flows"][number], family: Family, chain: string, prefix: string, memory: boolean): { rule: NftRule; icmp: boolean }[] {
  const sources = flow.sources?.filter((s) => parsePrefix(s)!.family === family);
  if (flow.sources && flow.sources.length > 0 && sources!.length === 0) return [];
  const common = sources && sources.length > 0 ? [matchSaddr(family, sources)] : [];
  const out: { rule: NftRule; icmp: boolean }[] = [];
  const portProtocols = flow.protocols.filter((p) => p !== "icmp");
  if (portProtocols.length > 0) {
    const statements = [
      ...common,
      matchL4proto(portProtocols),
      ...(flow.destinationPorts?.length ? [matchPorts("dport", flow.destinationPorts)] : []),
      ...(flow.sourcePorts?.length ? [matchPorts("sport", flow.sourcePorts)] : []),
      counter(),
      gotoChain(`${prefix}_${memory ? "recall" : "ports"}${family}`),
    ];
    out.push({ rule: { chain, statements, comment: lbComment(lb.name, { kind: "flow", flow: flow.name }) }, icmp: false });
  }
  if (flow.protocols.includes("icmp")) {
    const statements = [...common, matchL4proto([family === 4 ? "icmp" : "ipv6-icmp"]), counter(), gotoChain(`${prefix}_ping${family}`)];
    out.push({ rule: { chain, statements, comment: lbComment(lb.name, { kind: "flow", flow: flow.name }) }, icmp: true });
  }
  return out;
}

/** The port flows in priority order, as the fast path matches them (for the simulator). */
function fastFlows(lb: LoadBalancer): FastFlow[] {
  return [...lb.flows]
    .sort((a, b) => a.priority - b.priority)
    .filter((f) => f.protocols.some((p) => PORT_PROTOCOLS.includes(p)))
    .map((f) => ({
      name: f.name,
      protocols: f.protocols.filter((p) => PORT_PROTOCOLS.includes(p)),
      ...(f.destinationPorts?.length ? { destinationPorts: [...f.destinationPorts] } : {}),
      ...(f.sourcePorts?.length ? { sourcePorts: [...f.sourcePorts] } : {}),
      ...(f.sources?.length ? { sources: [...f.sources] } : {}),
    }));
}
