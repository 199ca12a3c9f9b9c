/**
 * A load balancer's fast path (issue 19): the same Maglev decision as the
 * routed path, taken at the ingress of the interfaces facing the clients, in
 * a `netdev` table (nft's `fwd` exists only there), and the packet forwarded
 * straight out of its target's conduit. Routing, ip rules, rp_filter and the
 * forward and postrouting hooks are skipped. Only what `fwd` can forward
 * unchanged takes it: unfragmented TCP/UDP/SCTP of a port flow, with hops left;
 * everything else returns to the ingress chain and takes the routed path.
 */
import type { LoadBalancer } from "../config/schema.js";
import type { NftFlowSet, NftRule } from "../model/nftTable.js";
import type { FieldPath } from "../config/errors.js";
import type { HostFacts } from "../model/facts.js";
import { counter, gotoChain, hashIntoMark, matchDaddr, matchPorts, matchSaddr, rememberFlow } from "../model/nftExpr.js";
import { forwardTo, jumpChain, matchHopsLeft, matchTransport, matchUnfragmented } from "../model/nftFastPath.js";
import { parsePrefix, type Family } from "../net/ip.js";
import { HASH_KEYS, PORT_PROTOCOLS, flowSetName, maglevMaps, memoryChains, type TableSink } from "./lbShared.js";
import { lbComment } from "../model/names.js";

/** The netdev table's share of one balancer, and the ingress interfaces whose chains jump into it. */
export interface FastPart extends TableSink {
  flowSets: NftFlowSet[];
  /** interface to the rules (without their chain) its ingress chain holds, balancer after balancer */
  ingress: Map<string, Omit<NftRule, "chain">[]>;
  /** problems only the host's facts reveal (a conduit narrower than an ingress interface) */
  refusals: { path: FieldPath; message: string }[];
}

/** What the routed path decided for the balancer, which the fast path must repeat exactly. */
export interface FastInput {
  lb: LoadBalancer;
  index: number;
  prefix: string;
  size: number;
  seed: number;
  memory: { timeout: number; size: number } | null;
  /** by family: the VIPs, the Maglev table's owner of each entry, and the targets that serve it with their route chain */
  families: { family: Family; vips: string[]; owners: string[]; targets: { name: string; chain: string; via: string; interface: string; recalled: boolean }[] }[];
}

/** The fast-path chain of a target: its routed chain's name and the family (`fwd ip` and `fwd ip6` differ). */
export function fastTargetChain(chain: string, family: Family): string {
  return `${chain}_${family}`;
}

/** Compiles one balancer's fast path into `part`. */
export function compileFastPath(input: FastInput, facts: HostFacts, part: FastPart): void {
  const { lb, prefix, size, seed, memory } = input;
  const fastPath = lb.fastPath;
  if (!fastPath) return;
  checkMtu(input, facts, part);
  for (const { family, vips, owners, targets } of input.families) {
    const chainOf = new Map(targets.map((t) => [t.name, fastTargetChain(t.chain, family)]));
    for (const t of targets) {
      const chain = chainOf.get(t.name)!;
      part.chains.push({ name: chain });
      if (memory) {
        const set = flowSetName(t.chain, family);
        part.flowSets.push({ name: set, family, timeout: memory.timeout, size: memory.size });
        part.nftRules.push({ chain, statements: [rememberFlow(family, set)], comment: lbComment(lb.name, { kind: "memory", target: t.name }) });
      }
      part.nftRules.push({ chain, statements: [counter(), forwardTo(family, t.via, t.interface)], comment: lbComment(lb.name, { kind: "fast target", target: t.name }) });
    }
    const entryChain = `${prefix}_in${family}`;
    part.chains.push({ name: entryChain });
    for (const dev of fastPath.ingress) {
      const rules = part.ingress.get(dev) ?? [];
      rules.push({ statements: [matchDaddr(family, vips), ...(family === 4 ? [matchUnfragmented()] : []), matchHopsLeft(family), jumpChain(entryChain)], comment: lbComment(lb.name, { kind: "fast entry" }) });
      part.ingress.set(dev, rules);
    }
    if (owners.length === 0) continue;
    const ports = `${prefix}_ports${family}`;
    part.chains.push({ name: ports });
    const lookup = maglevMaps(lb.name, `${prefix}_m${family}`, `${prefix}_part${family}`, owners.map((o) => chainOf.get(o)!), part);
    part.nftRules.push({ chain: ports, statements: [hashIntoMark(HASH_KEYS.ports[family], size, seed), lookup], comment: lbComment(lb.name, { kind: "lookup" }) });
    const next = memory ? `${prefix}_recall${family}` : ports;
    if (memory)
      memoryChains(lb.name, family, { recall: next, syn: `${prefix}_syn${family}`, ports }, targets.filter((t) => t.recalled).map((t) => ({ target: t.name, chain: chainOf.get(t.name)!, set: flowSetName(t.chain, family) })), part);
    // the port flows in priority order; any of them hashes the same way, so the first that matches goes on
    for (const flow of [...lb.flows].sort((a, b) => a.priority - b.priority)) {
      const protocols = flow.protocols.filter((p) => PORT_PROTOCOLS.includes(p));
      const sources = flow.sources?.filter((s) => parsePrefix(s)!.family === family);
      if (protocols.length === 0 || (flow.sources && flow.sources.length > 0 && sources!.length === 0)) continue;
      const statements = [
        ...(sources && sources.length > 0 ? [matchSaddr(family, sources)] : []),
        matchTransport(family, protocols),
        ...(flow.destinationPorts?.length ? [matchPorts("dport", flow.destinationPorts)] : []),
        ...(flow.sourcePorts?.length ? [matchPorts("sport", flow.sourcePorts)] : []),
        gotoChain(next),
      ];
      part.nftRules.push({ chain: entryChain, statements, comment: lbComment(lb.name, { kind: "fast flow", flow: flow.name }) });
    }
  }
}

/**
 * `fwd` neither fragments nor sends "fragmentation needed": a packet that fits
 * the ingress interface but not the conduit would be lost. Refused where the
 * facts know both MTUs.
 */
function checkMtu(input: FastInput, facts: HostFacts, part: FastPart): void {
  const conduits = new Map<string, string>();
  for (const f of input.families) for (const t of f.targets) if (!conduits.has(t.interface)) conduits.set(t.interface, t.name);
  input.lb.fastPath!.ingress.forEach((dev, j) => {
    const path: FieldPath = ["loadBalancers", input.index, "fastPath", "ingress", j];
    const link = facts.links[dev];
    if (Object.keys(facts.links).length > 0 && !link) {
      part.refusals.push({ path, message: `interface ${dev} does not exist on this host` });
      return;
    }
    if (link?.mtu === undefined) return;
    for (const [conduit, target] of conduits) {
      const mtu = facts.links[conduit]?.mtu;
      if (mtu !== undefined && mtu < link.mtu)
        part.refusals.push({ path, message: `MTU ${link.mtu} of ${dev} is larger than MTU ${mtu} of conduit ${conduit} (target ${target}): the fast path cannot fragment nor send "fragmentation needed"; lower ${dev}'s MTU to ${mtu} or raise ${conduit}'s` });
    }
  });
}
