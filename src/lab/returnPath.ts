/**
 * Seed 000's topology: a node with two services on loopback addresses,
 * reached by a router over two networks, and a default gateway on a third
 * network that knows nothing of the clients. Replies that follow the default
 * route are lost at that gateway.
 */
import { Lab } from "./lab.js";
import { startEchoServer, waitListening } from "./traffic.js";

/** Addresses of the topology, for tests and the lab story. */
export const RETURN_PATH = {
  service1: { v4: "192.168.1.1", v6: "fd00:1::1" },
  service2: { v4: "192.168.2.1", v6: "fd00:2::1" },
  client1: { v4: "10.111.223.23", v6: "fd00:223::23" },
  client2: { v4: "10.111.224.23", v6: "fd00:224::23" },
  port: 3000,
} as const;

/** Builds the topology; the node's services listen on port 3000. */
export async function buildReturnPath(lab: Lab): Promise<void> {
  await lab.addHosts("node", "router", "client1", "client2", "gw");
  await lab.link("node", "eth0", "gw", "eth0");
  await lab.link("node", "eth1", "router", "eth1");
  await lab.link("node", "eth2", "router", "eth2");
  await lab.link("router", "eth3", "client1", "eth0");
  await lab.link("router", "eth4", "client2", "eth0");

  await lab.addr("gw", "eth0", "10.111.220.1/24", "fd00:220::1/64");
  await lab.addr("node", "eth0", "10.111.220.11/24", "fd00:220::11/64");
  await lab.addr("node", "eth1", "10.111.221.11/24", "fd00:221::11/64");
  await lab.addr("node", "eth2", "10.111.222.11/24", "fd00:222::11/64");
  await lab.addr("node", "lo", "192.168.1.1/32", "192.168.2.1/32", "fd00:1::1/128", "fd00:2::1/128");
  await lab.route("node", "default", "via", "10.111.220.1", "dev", "eth0");
  await lab.route("node", "default", "via", "fd00:220::1", "dev", "eth0");

  await lab.addr("router", "eth1", "10.111.221.21/24", "fd00:221::21/64");
  await lab.addr("router", "eth2", "10.111.222.21/24", "fd00:222::21/64");
  await lab.addr("router", "eth3", "10.111.223.21/24", "fd00:223::21/64");
  await lab.addr("router", "eth4", "10.111.224.21/24", "fd00:224::21/64");
  await lab.forwarding("router");
  await lab.route("router", "192.168.1.1", "via", "10.111.221.11");
  await lab.route("router", "192.168.2.1", "via", "10.111.222.11");
  await lab.route("router", "fd00:1::1", "via", "fd00:221::11");
  await lab.route("router", "fd00:2::1", "via", "fd00:222::11");

  await lab.addr("client1", "eth0", "10.111.223.23/24", "fd00:223::23/64");
  await lab.route("client1", "default", "via", "10.111.223.21");
  await lab.route("client1", "default", "via", "fd00:223::21");
  await lab.addr("client2", "eth0", "10.111.224.23/24", "fd00:224::23/64");
  await lab.route("client2", "default", "via", "10.111.224.21");
  await lab.route("client2", "default", "via", "fd00:224::21");

  // the default gateway counts what reaches it from the services: where lost replies went
  await lab.nft("gw", [
    { add: { table: { family: "inet", name: "lab" } } },
    { add: { chain: { family: "inet", table: "lab", name: "seen", type: "filter", hook: "prerouting", prio: 0, policy: "accept" } } },
    { add: { rule: { family: "inet", table: "lab", chain: "seen", expr: [{ match: { op: "==", left: { payload: { protocol: "ip", field: "saddr" } }, right: { prefix: { addr: "192.168.0.0", len: 16 } } } }, { counter: null }] } } },
    { add: { rule: { family: "inet", table: "lab", chain: "seen", expr: [{ match: { op: "==", left: { payload: { protocol: "ip6", field: "saddr" } }, right: { prefix: { addr: "fd00::", len: 30 } } } }, { counter: null }] } } },
  ]);

  for (const svc of [RETURN_PATH.service1, RETURN_PATH.service2])
    for (const a of [svc.v4, svc.v6]) startEchoServer(lab, "node", a, RETURN_PATH.port);
  await waitListening(lab, "node", RETURN_PATH.port, 4);
}

/** Packets from the services that reached the default gateway instead of the router. */
export function packetsAtDefaultGateway(lab: Lab): Promise<number> {
  return lab.counted("gw", "inet", "lab");
}
