/**
 * `symroute lab scale-out`'s topology (issue 13): a client, an ECMP router
 * running BIRD 2 (eBGP with BFD to every frontend, `merge paths`, L4 hash),
 * up to four frontends each running `symroute run` (which runs its own BIRD),
 * and four targets on a shared back network. Targets hold the VIP on their
 * loopback and reply straight to the router (direct server return), so a
 * frontend carries only the client's half of a flow, and losing one moves
 * flows to others that hash them to the same target (the Maglev table depends
 * only on target names and size).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Lab } from "./lab.js";
import { renderRouterBird } from "../bgp/router.js";

export const SCALE = {
  vip: "20.0.0.1",
  port: 4000,
  client: "10.9.0.2",
  routerAsn: 65000,
  frontendAsn: 65001,
  frontends: [1, 2, 3, 4].map((n) => ({ name: `fe${n}`, up: `10.1.${n}.2`, router: `10.1.${n}.1`, back: `172.16.0.1${n}` })),
  targets: [1, 2, 3, 4].map((n) => ({ name: `t${n}`, address: `172.16.0.2${n}` })),
} as const;

/** The config of frontend `n` (1-based): one balancer over the four checked targets, announced to the router. */
export function frontendConfig(n: number): string {
  const f = SCALE.frontends[n - 1];
  return `version: 1
loadBalancers:
  - name: web
    vips: [${SCALE.vip}]
    flows:
      - { name: tcp-${SCALE.port}, priority: 1, protocols: [tcp], destinationPorts: ["${SCALE.port}"] }
    targets:
${SCALE.targets.map((t) => `      - { name: ${t.name}, via: ${t.address}, interface: back, check: { tcp: ${SCALE.port}, interval: 100ms, down: 3, up: 2 } }`).join("\n")}
bgp:
  routerId: ${f.up}
  asn: ${SCALE.frontendAsn}
  neighbors:
    - { address: ${f.router}, asn: ${SCALE.routerAsn}, bfd: true }
  bfd: { interval: 100ms, multiplier: 3 }
daemon:
  metrics: "off"
`;
}

/** A line server on every target: each line is answered with the target's name. */
const SERVER = `
const net = require("node:net");
const name = process.argv[1];
net.createServer((s) => {
  let buf = "";
  s.on("data", (d) => { buf += d; let i; while ((i = buf.indexOf("\\n")) >= 0) { buf = buf.slice(i + 1); s.write(name + "\\n"); } });
  s.on("error", () => {});
}).listen(Number(process.argv[2]), "0.0.0.0");
`;

/** The router's BIRD: its file and control socket. */
export interface ScaleLab {
  routerSocket: string;
  dir: string;
}

/** Builds the namespaces; the router's BIRD runs, no frontend does yet. `frontends`: how many to build (1-4). */
export async function buildScaleOut(lab: Lab, frontends = 4, bfdMs = 100): Promise<ScaleLab> {
  const fes = SCALE.frontends.slice(0, frontends);
  await lab.addHosts("cl", "rt", "bk", ...fes.map((f) => f.name), ...SCALE.targets.map((t) => t.name));
  await lab.exec("bk", ["ip", "link", "add", "br0", "type", "bridge"]);
  await lab.exec("bk", ["ip", "link", "set", "br0", "up"]);
  const toBridge = async (host: string, port: string) => {
    await lab.link(host, "back", "bk", port);
    await lab.exec("bk", ["ip", "link", "set", port, "master", "br0"]);
  };
  await lab.link("cl", "eth0", "rt", "cl0");
  await lab.addr("cl", "eth0", `${SCALE.client}/24`);
  await lab.route("cl", "default", "via", "10.9.0.1");
  await lab.addr("rt", "cl0", "10.9.0.1/24");
  await lab.forwarding("rt");
  // L4 hash: the flows of one client spread over the frontends (the default hashes addresses only)
  await lab.exec("rt", ["sysctl", "-q", "-w", "net/ipv4/fib_multipath_hash_policy=1"]);
  await toBridge("rt", "rt");
  await lab.addr("rt", "back", "172.16.0.1/24");
  for (const f of fes) {
    await lab.link("rt", f.name, f.name, "up0");
    await lab.addr("rt", f.name, `${f.router}/24`);
    await lab.addr(f.name, "up0", `${f.up}/24`);
    await toBridge(f.name, f.name);
    await lab.addr(f.name, "back", `${f.back}/24`);
    await lab.forwarding(f.name);
  }
  for (const t of SCALE.targets) {
    await toBridge(t.name, t.name);
    await lab.addr(t.name, "back", `${t.address}/24`);
    await lab.addr(t.name, "lo", `${SCALE.vip}/32`);
    // replies go straight to the router (direct server return), never back through a frontend
    await lab.route(t.name, "default", "via", "172.16.0.1");
    lab.background(t.name, [process.execPath, "-e", SERVER, t.name, String(SCALE.port)]);
  }
  const dir = mkdtempSync(join(tmpdir(), "symroute-scale-"));
  const routerConf = join(dir, "router.conf");
  const routerSocket = join(dir, "router.ctl");
  writeFileSync(
    routerConf,
    renderRouterBird({
      routerId: "10.9.0.1",
      asn: SCALE.routerAsn,
      frontends: SCALE.frontends.map((f) => ({ name: f.name, address: f.up, asn: SCALE.frontendAsn })),
      bfd: { interval: bfdMs, multiplier: 3 },
    }),
  );
  lab.background("rt", ["bird", "-f", "-c", routerConf, "-s", routerSocket, "-P", join(dir, "router.pid")]);
  for (let i = 0; i < 100 && !existsSync(routerSocket); i++) await new Promise((r) => setTimeout(r, 20));
  return { routerSocket, dir };
}

/** The router's next hops for the VIP in its kernel (empty when it has no route). */
export async function routerNextHops(lab: Lab, vip: string = SCALE.vip): Promise<string[]> {
  const r = await lab.exec("rt", ["ip", "-j", "route", "show", `${vip}/32`], undefined, true);
  const routes = (JSON.parse(r.stdout || "[]") as { gateway?: string; nexthops?: { gateway?: string }[] }[]);
  return routes.flatMap((rt) => (rt.nexthops ? rt.nexthops.map((n) => n.gateway ?? "") : rt.gateway ? [rt.gateway] : [])).filter(Boolean).sort();
}

/** The path of the CLI (bin/symroute.js), found from this module whether it runs from src/ or from the bundle in dist/. */
export function cliPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, "bin", "symroute.js"))) return join(dir, "bin", "symroute.js");
    dir = dirname(dir);
  }
  throw new Error("bin/symroute.js not found");
}

/** `symroute run` of one frontend as a process (SIGKILL is a frontend's death), its output kept for the story. */
export class FrontendDaemon {
  readonly child: ChildProcess;
  private out = "";
  readonly file: string;
  constructor(lab: Lab, readonly name: string, n: number, dir: string) {
    this.file = join(dir, `${name}.yaml`);
    writeFileSync(this.file, frontendConfig(n));
    this.child = spawn(process.execPath, [cliPath(), "run", this.file, "--netns", lab.ns(name)], { stdio: ["ignore", "pipe", "pipe"], env: process.env });
    const keep = (d: Buffer) => (this.out = (this.out + d.toString()).slice(-20_000));
    this.child.stdout!.on("data", keep);
    this.child.stderr!.on("data", keep);
  }
  output(): string {
    return this.out;
  }
  alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  kill(signal: NodeJS.Signals): Promise<void> {
    if (!this.alive()) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once("exit", () => resolve());
      this.child.kill(signal);
    });
  }
}

/** A frontend's machine goes dark: everything in and out of it dropped (its BGP session's FIN included), as a power cut would. */
export async function darken(lab: Lab, host: string): Promise<void> {
  await lab.nft(host, [
    { add: { table: { family: "netdev", name: "dead" } } },
    ...["up0", "back"].map((dev) => ({ add: { chain: { family: "netdev", table: "dead", name: `in_${dev}`, type: "filter", hook: "ingress", dev, prio: -500, policy: "drop" } } })),
    { add: { table: { family: "inet", name: "dead" } } },
    { add: { chain: { family: "inet", table: "dead", name: "out", type: "filter", hook: "output", prio: -500, policy: "drop" } } },
    { add: { chain: { family: "inet", table: "dead", name: "fwd", type: "filter", hook: "forward", prio: -500, policy: "drop" } } },
  ]);
}

/** Undoes `darken`: the machine is back (with whatever its kernel holds). */
export async function relight(lab: Lab, host: string): Promise<void> {
  await lab.exec(host, ["nft", "delete", "table", "netdev", "dead"], undefined, true);
  await lab.exec(host, ["nft", "delete", "table", "inet", "dead"], undefined, true);
}

/** Polls the router's kernel route for the VIP until `check` holds on its next hops: the time it took, or null past `limitMs`. */
export async function untilNextHops(lab: Lab, check: (hops: string[]) => boolean, limitMs: number, since = Date.now()): Promise<number | null> {
  for (;;) {
    if (check(await routerNextHops(lab))) return Date.now() - since;
    if (Date.now() - since > limitMs) return null;
    await new Promise((r) => setTimeout(r, 5));
  }
}
