/**
 * Seed 001's topology: two hosts and a router on one segment (eth0.500, a
 * bridge in its own namespace), two instances on each host (namespaces joined
 * to the host by a veth whose host end is the tap), and an outside host
 * behind the router's eth0. Hosts have no address on the segment.
 */
import { Lab } from "./lab.js";
import { startEchoServer, waitListening } from "./traffic.js";

export const ROUTED = {
  subnet: "192.0.2.0/24",
  subnet6: "2001:db8:500::/64",
  gateway: "192.0.2.1",
  gateway6: "2001:db8:500::1",
  arpSource: "192.0.2.254",
  outside: { v4: "198.51.100.2", v6: "2001:db8:ff::2" },
  routerOutside: { v4: "198.51.100.1", v6: "2001:db8:ff::1" },
  instances: [
    { name: "vm1a", host: "h1", tap: "tap0", v4: "192.0.2.10", v6: "2001:db8:500::10" },
    { name: "vm1b", host: "h1", tap: "tap1", v4: "192.0.2.11", v6: "2001:db8:500::11" },
    { name: "vm2a", host: "h2", tap: "tap0", v4: "192.0.2.20", v6: "2001:db8:500::20" },
    { name: "vm2b", host: "h2", tap: "tap1", v4: "192.0.2.21", v6: "2001:db8:500::21" },
  ],
  port: 7000,
} as const;

export type Instance = { name: string; host: string; tap: string; v4: string; v6: string };

/** The config of one host with the given instances. */
export function hostConfig(instances: readonly Instance[]): string {
  const lines = [
    "version: 1",
    "routedNetworks:",
    "  - name: routed_net",
    "    interface: eth0.500",
    `    subnet: ${ROUTED.subnet}`,
    `    subnet6: "${ROUTED.subnet6}"`,
    `    gateway: ${ROUTED.gateway}`,
    `    gateway6: "${ROUTED.gateway6}"`,
    "    table: 500",
    "    role: host",
    `    arpSource: ${ROUTED.arpSource}`,
    "    instances:",
    ...instances.map((i) => `      - { address: ${i.v4}, address6: "${i.v6}", tap: ${i.tap} }`),
  ];
  if (instances.length === 0) lines[lines.length - 1] = "    instances: []";
  return lines.join("\n") + "\n";
}

/** Joins an instance to a host: veth (tap on the host), addresses, default routes, an echo server. */
export async function plugInstance(lab: Lab, inst: Instance): Promise<void> {
  await lab.link(inst.host, inst.tap, inst.name, "eth0");
  // IPv6 as the seed's router advertisements set it up: the prefix is not on-link, so the
  // instance sends everything to its gateway, which its tap answers for (proxy NDP)
  await lab.addr(inst.name, "eth0", `${inst.v4}/24`, `${inst.v6}/128`);
  await lab.route(inst.name, "default", "via", ROUTED.gateway, "dev", "eth0");
  await lab.route(inst.name, "default", "via", ROUTED.gateway6, "dev", "eth0", "onlink");
}

/** Builds the topology (instances plugged, nothing applied). */
export async function buildRoutedNetwork(lab: Lab): Promise<void> {
  await lab.addHosts("sw", "h1", "h2", "r", "out", ...ROUTED.instances.map((i) => i.name));
  await lab.exec("sw", ["ip", "link", "add", "br0", "type", "bridge"]);
  await lab.exec("sw", ["ip", "link", "set", "br0", "up"]);
  for (const node of ["h1", "h2", "r"]) {
    await lab.link(node, "eth0.500", "sw", node);
    await lab.exec("sw", ["ip", "link", "set", node, "master", "br0"]);
  }
  await lab.link("r", "eth0", "out", "eth0");
  await lab.addr("r", "eth0", `${ROUTED.routerOutside.v4}/24`, `${ROUTED.routerOutside.v6}/64`);
  await lab.addr("out", "eth0", `${ROUTED.outside.v4}/24`, `${ROUTED.outside.v6}/64`);
  // the outside knows the subnet is behind the router (for traffic toward instances without NAT)
  await lab.route("out", ROUTED.subnet, "via", ROUTED.routerOutside.v4);
  await lab.route("out", ROUTED.subnet6, "via", ROUTED.routerOutside.v6);
  for (const inst of ROUTED.instances) {
    await plugInstance(lab, inst);
    startEchoServer(lab, inst.name, "0.0.0.0", ROUTED.port);
    startEchoServer(lab, inst.name, "::", ROUTED.port);
  }
  startEchoServer(lab, "out", "0.0.0.0", ROUTED.port);
  startEchoServer(lab, "out", "::", ROUTED.port);
  for (const inst of ROUTED.instances) await waitListening(lab, inst.name, ROUTED.port, 2);
  await waitListening(lab, "out", ROUTED.port, 2);
}
