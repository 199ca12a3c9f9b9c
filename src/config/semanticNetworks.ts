/**
 * Checks of `routedNetworks`: instances inside the subnet, taps used once,
 * gateways where the role needs one, a sensible ARP source.
 */
import type { Config } from "./schema.js";
import type { PathIssue } from "./semantic.js";
import { parseAddress, parsePrefix, prefixContains } from "../net/ip.js";

/** Every problem in the routed networks. */
export function checkRoutedNetworks(config: Config): PathIssue[] {
  const issues: PathIssue[] = [];
  const add = (path: (string | number)[], message: string) => issues.push({ path, message });
  const tapOwner = new Map<string, string>();
  const names = new Set<string>();
  config.routedNetworks.forEach((net, i) => {
    const base = ["routedNetworks", i];
    if (names.has(net.name)) add([...base, "name"], `duplicate routed network name '${net.name}'`);
    names.add(net.name);
    const subnet = net.subnet ? parsePrefix(net.subnet) : null;
    const subnet6 = net.subnet6 ? parsePrefix(net.subnet6) : null;
    if (!subnet && !subnet6) add(base, "needs subnet and/or subnet6");
    if (net.role !== "host" && !net.gateway && !net.gateway6) add([...base, "role"], `the ${net.role} role holds the gateway address: give gateway and/or gateway6`);
    if (net.role === "host" && !net.gateway && !net.gateway6) add([...base, "role"], "the host role sends its instances' traffic to the router: give gateway and/or gateway6");
    for (const [key, value, sub] of [["gateway", net.gateway, subnet], ["gateway6", net.gateway6, subnet6]] as const) {
      if (!value) continue;
      if (!sub) add([...base, key], `${key} needs ${key === "gateway" ? "subnet" : "subnet6"}`);
      else if (!prefixContains(sub, parseAddress(value)!)) add([...base, key], `${value} is not inside ${key === "gateway" ? net.subnet : net.subnet6}`);
    }
    if (net.role === "router" && net.instances.length > 0) add([...base, "instances"], "the router role hosts no instances; use host-router");
    if (net.role === "host" && net.masquerade) issues.push({ path: [...base, "masquerade"], message: "ignored: only the router roles masquerade", warning: true });
    if (net.arpSource) {
      if (net.role !== "host") add([...base, "arpSource"], "only the host role needs arpSource (a router has the gateway address)");
      const a = parseAddress(net.arpSource)!;
      if (subnet && !prefixContains(subnet, a)) add([...base, "arpSource"], `${net.arpSource} is not inside ${net.subnet}`);
      if (net.arpSource === net.gateway) add([...base, "arpSource"], "arpSource must not be the gateway");
      if (net.instances.some((x) => x.address === net.arpSource)) add([...base, "arpSource"], `${net.arpSource} is an instance's address; pick an address no instance uses`);
    }
    const seen = new Set<string>();
    net.instances.forEach((inst, j) => {
      const ib = [...base, "instances", j];
      if (!inst.address && !inst.address6) add(ib, "needs address and/or address6");
      if (inst.address) {
        if (!subnet) add([...ib, "address"], "an IPv4 address needs the network's subnet");
        else if (!prefixContains(subnet, parseAddress(inst.address)!)) add([...ib, "address"], `${inst.address} is outside the subnet ${net.subnet}`);
        if (inst.address === net.gateway) add([...ib, "address"], "an instance cannot have the gateway's address");
        if (seen.has(inst.address)) add([...ib, "address"], `${inst.address} is used by another instance`);
        seen.add(inst.address);
      }
      if (inst.address6) {
        if (!subnet6) add([...ib, "address6"], "an IPv6 address needs the network's subnet6");
        else if (!prefixContains(subnet6, parseAddress(inst.address6)!)) add([...ib, "address6"], `${inst.address6} is outside the subnet ${net.subnet6}`);
      }
      const owner = tapOwner.get(inst.tap);
      if (owner !== undefined) add([...ib, "tap"], `tap ${inst.tap} is already used by ${owner}`);
      else tapOwner.set(inst.tap, `an instance of ${net.name}`);
      if (inst.tap === net.interface) add([...ib, "tap"], "the tap cannot be the network's interface");
    });
  });
  return issues;
}
