/**
 * Seed 004's topology: a host with two uplinks to two ISPs, a client behind
 * each, and a LAN server reached by port forwarding. Each ISP drops packets
 * whose source is not its customer's prefix, as real ISPs do.
 */
import { Lab } from "./lab.js";
import { startEchoServer, waitListening } from "./traffic.js";

export const UPLINKS = {
  host: { isp1: { v4: "203.0.113.8", v6: "2001:db8:1::8" }, isp2: { v4: "192.0.2.31", v6: "2001:db8:2::31" } },
  client1: { v4: "198.51.100.10", v6: "2001:db8:a::10" },
  client2: { v4: "198.18.0.10", v6: "2001:db8:b::10" },
  lanServer: { v4: "10.10.0.2", v6: "fd10::2" },
  port: 3000,
  forwardedPort: 8080,
} as const;

function antiSpoof(family: "ip" | "ip6", customer: string, len: number) {
  return {
    add: {
      rule: {
        family: "inet", table: "isp", chain: "ingress",
        expr: [
          { match: { op: "==", left: { meta: { key: "iifname" } }, right: "tohost" } },
          { match: { op: "!=", left: { payload: { protocol: family, field: "saddr" } }, right: { prefix: { addr: customer, len } } } },
          // neighbour discovery speaks from link-local addresses: not spoofing
          ...(family === "ip6" ? [{ match: { op: "!=", left: { payload: { protocol: family, field: "saddr" } }, right: { prefix: { addr: "fe80::", len: 10 } } } }] : []),
          { counter: null },
          { drop: null },
        ],
      },
    },
  };
}

async function isp(lab: Lab, name: string, hostSide: string[], clientSide: string[], customer4: string, customer6: string): Promise<void> {
  await lab.addr(name, "tohost", ...hostSide);
  await lab.addr(name, "toclient", ...clientSide);
  await lab.forwarding(name);
  await lab.nft(name, [
    { add: { table: { family: "inet", name: "isp" } } },
    { add: { chain: { family: "inet", table: "isp", name: "ingress", type: "filter", hook: "prerouting", prio: 0, policy: "accept" } } },
    antiSpoof("ip", customer4, 24),
    antiSpoof("ip6", customer6, 64),
  ]);
}

/** Packets an ISP dropped because their source was not its customer's prefix. */
export function spoofDrops(lab: Lab, isp: string): Promise<number> {
  return lab.counted(isp, "inet", "isp");
}

/** Builds the topology; the host's echo servers listen on port 3000 and the LAN server on 8080. */
export async function buildUplinks(lab: Lab): Promise<void> {
  await lab.addHosts("host", "isp1", "isp2", "client1", "client2", "lan");
  await lab.link("host", "eth1", "isp1", "tohost");
  await lab.link("host", "eth2", "isp2", "tohost");
  await lab.link("isp1", "toclient", "client1", "eth0");
  await lab.link("isp2", "toclient", "client2", "eth0");
  await lab.link("host", "lan0", "lan", "eth0");

  await lab.addr("host", "eth1", "203.0.113.8/24", "2001:db8:1::8/64");
  await lab.addr("host", "eth2", "192.0.2.31/24", "2001:db8:2::31/64");
  await lab.addr("host", "lan0", "10.10.0.1/24", "fd10::1/64");
  await lab.route("host", "default", "via", "203.0.113.1", "dev", "eth1");
  await lab.route("host", "default", "via", "2001:db8:1::1", "dev", "eth1");
  await lab.forwarding("host");

  await isp(lab, "isp1", ["203.0.113.1/24", "2001:db8:1::1/64"], ["198.51.100.1/24", "2001:db8:a::1/64"], "203.0.113.0", "2001:db8:1::");
  await isp(lab, "isp2", ["192.0.2.1/24", "2001:db8:2::1/64"], ["198.18.0.1/24", "2001:db8:b::1/64"], "192.0.2.0", "2001:db8:2::");

  await lab.addr("client1", "eth0", "198.51.100.10/24", "2001:db8:a::10/64");
  await lab.route("client1", "default", "via", "198.51.100.1");
  await lab.route("client1", "default", "via", "2001:db8:a::1");
  await lab.addr("client2", "eth0", "198.18.0.10/24", "2001:db8:b::10/64");
  await lab.route("client2", "default", "via", "198.18.0.1");
  await lab.route("client2", "default", "via", "2001:db8:b::1");

  await lab.addr("lan", "eth0", "10.10.0.2/24", "fd10::2/64");
  await lab.route("lan", "default", "via", "10.10.0.1");
  await lab.route("lan", "default", "via", "fd10::1");

  // port forwarding on the host: a foreign nft table symroute must leave alone
  const dnat = (family: "ip" | "ip6", to: string) => ({
    add: {
      rule: {
        family, table: "labnat", chain: "pre",
        expr: [
          { match: { op: "==", left: { payload: { protocol: "tcp", field: "dport" } }, right: UPLINKS.forwardedPort } },
          { dnat: { addr: to } },
        ],
      },
    },
  });
  for (const [family, to] of [["ip", UPLINKS.lanServer.v4], ["ip6", UPLINKS.lanServer.v6]] as const) {
    await lab.nft("host", [
      { add: { table: { family, name: "labnat" } } },
      { add: { chain: { family, table: "labnat", name: "pre", type: "nat", hook: "prerouting", prio: -100, policy: "accept" } } },
      dnat(family, to),
    ]);
  }

  for (const addr of [UPLINKS.host.isp1, UPLINKS.host.isp2]) {
    startEchoServer(lab, "host", addr.v4, UPLINKS.port);
    startEchoServer(lab, "host", addr.v6, UPLINKS.port);
  }
  startEchoServer(lab, "lan", UPLINKS.lanServer.v4, UPLINKS.forwardedPort);
  startEchoServer(lab, "lan", UPLINKS.lanServer.v6, UPLINKS.forwardedPort);
  await waitListening(lab, "host", UPLINKS.port, 4);
  await waitListening(lab, "lan", UPLINKS.forwardedPort, 2);
}
