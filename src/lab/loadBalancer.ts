/**
 * Seeds 002/003's topology: a traffic generator behind a gateway, the
 * frontend (ext-vlan0 toward the gateway, conduit-a and conduit-b toward the
 * targets), and four targets, two behind each conduit on a bridge. Each target
 * holds the VIPs on its loopback and answers with its own name.
 */
import { Lab } from "./lab.js";
import { PROBE_SCRIPT, SERVER_SCRIPT } from "./probeScript.js";
import { parseAddress } from "../net/ip.js";
import type { BackgroundProcess } from "../kernel/background.js";

export const LB = {
  vip4: "20.0.0.1",
  vip6: "2000::1",
  tcpPort: 4000,
  bigPort: 4001,
  udpPort: 5000,
  /** long-lived flows: each line answered with the target's name */
  streamPort: 4002,
  targets: [
    { name: "target-a", conduit: "a", v4: "172.16.0.6", v6: "fd00::6" },
    { name: "target-b", conduit: "a", v4: "172.16.0.8", v6: "fd00::8" },
    { name: "target-c", conduit: "b", v4: "172.16.1.6", v6: "fd00:0:0:1::6" },
    { name: "target-d", conduit: "b", v4: "172.16.1.8", v6: "fd00:0:0:1::8" },
  ],
  client: { v4: "198.51.100.2", v6: "2001:db8:100::2" },
} as const;

/** Namespace name of a target host. */
export function targetHost(name: string): string {
  return name.replace("target-", "t");
}

/**
 * Starts a target's servers: TCP and UDP answering with its name on the VIPs, a
 * long-lived stream, and for health checks TCP 4000 and HTTP 8080 /healthz on its own addresses.
 */
export function startTargetServer(lab: Lab, t: (typeof LB.targets)[number]): BackgroundProcess {
  const arg = JSON.stringify({ name: t.name, addresses: [LB.vip4, LB.vip6], own: [t.v4, t.v6], tcpPort: LB.tcpPort, bigPort: LB.bigPort, udpPort: LB.udpPort, streamPort: LB.streamPort });
  return lab.background(targetHost(t.name), [process.execPath, "--input-type=module", "-e", SERVER_SCRIPT, arg]);
}

/** Builds the topology and starts a TCP and a UDP answering server on each target; returns the servers by target name. */
export async function buildLoadBalancer(lab: Lab): Promise<Map<string, BackgroundProcess>> {
  const servers = new Map<string, BackgroundProcess>();
  await lab.addHosts("tg", "gw", "fe", "swa", "swb", ...LB.targets.map((t) => targetHost(t.name)));
  await lab.link("tg", "eth0", "gw", "tg0");
  await lab.link("gw", "fe0", "fe", "ext-vlan0");
  await lab.link("fe", "conduit-a", "swa", "fe");
  await lab.link("fe", "conduit-b", "swb", "fe");
  for (const sw of ["swa", "swb"]) {
    await lab.exec(sw, ["ip", "link", "add", "br0", "type", "bridge"]);
    await lab.exec(sw, ["ip", "link", "set", "br0", "up"]);
    await lab.exec(sw, ["ip", "link", "set", "fe", "master", "br0"]);
  }
  await lab.addr("tg", "eth0", "198.51.100.2/24", "2001:db8:100::2/64");
  await lab.route("tg", "default", "via", "198.51.100.1");
  await lab.route("tg", "default", "via", "2001:db8:100::1");
  await lab.addr("gw", "tg0", "198.51.100.1/24", "2001:db8:100::1/64");
  await lab.addr("gw", "fe0", "169.254.100.150/24", "100:100::150/64");
  await lab.forwarding("gw");
  await lab.route("gw", LB.vip4, "via", "169.254.100.1");
  await lab.route("gw", LB.vip6, "via", "100:100::1");
  await lab.addr("fe", "ext-vlan0", "169.254.100.1/24", "100:100::1/64");
  await lab.addr("fe", "conduit-a", "172.16.0.4/24", "fd00::4/64");
  await lab.addr("fe", "conduit-b", "172.16.1.4/24", "fd00:0:0:1::4/64");
  for (const t of LB.targets) {
    const host = targetHost(t.name);
    const sw = t.conduit === "a" ? "swa" : "swb";
    await lab.link(host, "eth0", sw, host);
    await lab.exec(sw, ["ip", "link", "set", host, "master", "br0"]);
    await lab.addr(host, "eth0", `${t.v4}/24`, `${t.v6}/64`);
    await lab.addr(host, "lo", `${LB.vip4}/32`, `${LB.vip6}/128`);
    await lab.route(host, "default", "via", t.conduit === "a" ? "172.16.0.4" : "172.16.1.4");
    await lab.route(host, "default", "via", t.conduit === "a" ? "fd00::4" : "fd00:0:0:1::4");
    servers.set(t.name, startTargetServer(lab, t));
  }
  for (const t of LB.targets) {
    const host = targetHost(t.name);
    for (let i = 0; i < 50; i++) {
      const r = await lab.exec(host, ["ss", "-ltnH", `sport = :${LB.tcpPort}`], undefined, true);
      if (r.stdout.trim().split("\n").filter(Boolean).length >= 4) break;
      await new Promise((res) => setTimeout(res, 50));
    }
  }
  return servers;
}

/** Who answered each connection (null where none did), from the traffic generator. */
export async function probe(lab: Lab, opts: { vip: string; port: number; sports: number[]; proto?: "tcp" | "udp"; payload?: number; concurrency?: number }): Promise<(string | null)[]> {
  if (!parseAddress(opts.vip)) throw new Error(`not an address: ${opts.vip}`);
  const arg = JSON.stringify({ host: opts.vip, port: opts.port, sports: opts.sports, proto: opts.proto ?? "tcp", concurrency: opts.concurrency ?? 40, timeoutMs: 3000, payload: opts.payload ?? 16 });
  const r = await lab.exec("tg", [process.execPath, "--input-type=module", "-e", PROBE_SCRIPT, arg]);
  return JSON.parse(r.stdout) as (string | null)[];
}
