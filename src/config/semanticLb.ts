/**
 * Checks of `loadBalancers` that need more than one field: VIP families
 * against targets, Maglev sizes, flows that can never match.
 */
import type { Config } from "./schema.js";
import type { PathIssue } from "./semantic.js";
import { parseAddress, parsePrefix } from "../net/ip.js";
import { isPrime } from "../maglev/table.js";

function portRangeProblem(spec: string): string | null {
  const [a, b] = spec.split("-").map(Number);
  if (a > 65535 || (b !== undefined && b > 65535)) return `port ${spec} is beyond 65535`;
  if (b !== undefined && a > b) return `range ${spec} starts after it ends`;
  return null;
}

/** Every problem in the load balancers. */
export function checkLoadBalancers(config: Config): PathIssue[] {
  const issues: PathIssue[] = [];
  const add = (path: (string | number)[], message: string) => issues.push({ path, message });
  const warn = (path: (string | number)[], message: string) => issues.push({ path, message, warning: true });
  const lbNames = new Set<string>();
  config.loadBalancers.forEach((lb, i) => {
    const base = ["loadBalancers", i];
    if (lbNames.has(lb.name)) add([...base, "name"], `duplicate load balancer name '${lb.name}'`);
    lbNames.add(lb.name);
    const seenIngress = new Set<string>();
    const conduits = new Set(lb.targets.map((t) => t.interface));
    lb.fastPath?.ingress.forEach((dev, j) => {
      if (seenIngress.has(dev)) add([...base, "fastPath", "ingress", j], `interface ${dev} is listed twice`);
      // fwd would send a target's own traffic to a VIP straight back into a conduit: a loop the routed path avoids
      if (conduits.has(dev)) add([...base, "fastPath", "ingress", j], `interface ${dev} is a target's conduit; the fast path belongs on the interfaces facing the clients`);
      seenIngress.add(dev);
    });
    if (lb.fastPath && !lb.flows.some((f) => f.protocols.some((p) => p !== "icmp")))
      warn([...base, "fastPath"], "no flow has TCP, UDP or SCTP: the fast path forwards nothing (ICMP always takes the routed path)");
    const families = new Set<number>();
    const seenVip = new Set<string>();
    lb.vips.forEach((v, j) => {
      const a = parseAddress(v);
      if (!a) return;
      families.add(a.family);
      if (seenVip.has(v)) add([...base, "vips", j], `VIP ${v} is listed twice`);
      seenVip.add(v);
    });
    const targetNames = new Set<string>();
    lb.targets.forEach((t, j) => {
      if (targetNames.has(t.name)) add([...base, "targets", j, "name"], `duplicate target name '${t.name}': names must be unique, the Maglev permutation derives from them`);
      targetNames.add(t.name);
      if (!t.via && !t.via6) add([...base, "targets", j], "needs via and/or via6");
      if (families.has(4) && !t.via) warn([...base, "targets", j], `target ${t.name} has no via: it serves only the IPv6 VIPs`);
      if (families.has(6) && !t.via6) warn([...base, "targets", j], `target ${t.name} has no via6: it serves only the IPv4 VIPs`);
    });
    if (lb.registration && lb.targets.length === 0 && !lb.registration.conduits)
      add([...base, "registration"], "takes registrations but has no targets in the file, so no conduit a registered target could use: name them in registration.conduits (e.g. conduits: [conduit-a])");
    const size = lb.maglev.size;
    if (size !== undefined) {
      if (!isPrime(size)) add([...base, "maglev", "size"], `${size} is not a prime; Maglev needs a prime size (e.g. 9973, 65537)`);
      if (size < lb.targets.length) add([...base, "maglev", "size"], `${size} is smaller than the number of targets (${lb.targets.length})`);
    }
    const flowNames = new Set<string>();
    const priorities = new Map<number, string>();
    lb.flows.forEach((f, j) => {
      const fb = [...base, "flows", j];
      if (flowNames.has(f.name)) add([...fb, "name"], `duplicate flow name '${f.name}'`);
      flowNames.add(f.name);
      const other = priorities.get(f.priority);
      if (other !== undefined) add([...fb, "priority"], `flow ${other} has the same priority; the first match must be unambiguous`);
      priorities.set(f.priority, f.name);
      const onlyIcmp = f.protocols.every((p) => p === "icmp");
      if (onlyIcmp && (f.destinationPorts?.length || f.sourcePorts?.length))
        add([...fb, f.destinationPorts?.length ? "destinationPorts" : "sourcePorts"], "can never match: icmp has no ports");
      for (const key of ["destinationPorts", "sourcePorts"] as const)
        f[key]?.forEach((p, k) => {
          const problem = portRangeProblem(p);
          if (problem) add([...fb, key, k], problem);
        });
      if (f.sources && f.sources.length > 0) {
        const srcFamilies = new Set(f.sources.map((s) => parsePrefix(s)?.family));
        if (![...srcFamilies].some((fam) => fam !== undefined && families.has(fam)))
          add([...fb, "sources"], "can never match: no VIP of the sources' address family");
      }
    });
    if (lb.egress) {
      if (!lb.egress.gateway && !lb.egress.gateway6) add([...base, "egress"], "needs gateway and/or gateway6");
      if (families.has(4) && !lb.egress.gateway) warn([...base, "egress"], "no gateway: replies from the IPv4 VIPs follow the main table");
      if (families.has(6) && !lb.egress.gateway6) warn([...base, "egress"], "no gateway6: replies from the IPv6 VIPs follow the main table");
    }
  });
  return issues;
}
