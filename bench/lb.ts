/**
 * Load-balancer benchmarks, as ratios measured side by side in one run:
 *  - Maglev table build time at (65537, 1000 targets) and (9973, 100);
 *  - the time for a target change to take effect (a whole `symroute apply`)
 *    against the first apply;
 *  - forwarding through the frontend in namespaces, alternating three ways on
 *    the same topology: plain forwarding to one target, kernel ECMP over the
 *    four targets (fib_multipath_hash_policy=1), and symroute's Maglev balancer.
 *    Small-packet UDP (64-byte payload, packets per second received by the
 *    targets), full-size TCP (segmentation offload off on the client), and
 *    connection setup time.
 * Needs root and iperf2 (Debian `iperf`, installed when missing).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab } from "../src/lab/lab.js";
import { buildLoadBalancer, LB, probe, targetHost } from "../src/lab/loadBalancer.js";
import { examplePath } from "../src/lab/examples.js";
import { maglevTable } from "../src/maglev/table.js";

const repo = join(import.meta.dirname, "..");
const stateDir = mkdtempSync(join(tmpdir(), "symroute-lbbench-"));
const ROUNDS = 3;
const SECONDS = 3;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function symroute(args: string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [join(repo, "bin", "symroute.js"), ...args], { encoding: "utf8", env: { ...process.env, SYMROUTE_STATE_DIR: stateDir } });
  if (r.status !== 0) throw new Error(`symroute ${args.join(" ")}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function buildTimes(): string[] {
  const out: string[] = [];
  for (const [size, n] of [[9973, 100], [65537, 1000]] as const) {
    const names = Array.from({ length: n }, (_, i) => `target-${i}`);
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = process.hrtime.bigint();
      maglevTable(names, size);
      runs.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    out.push(`Maglev build (size ${size}, ${n} targets): ${median(runs).toFixed(1)} ms (median of 5)`);
  }
  return out;
}

async function rxPackets(lab: Lab): Promise<{ packets: number; bytes: number }> {
  let packets = 0;
  let bytes = 0;
  for (const t of LB.targets) {
    const r = await lab.exec(targetHost(t.name), ["ip", "-s", "-j", "link", "show", "eth0"]);
    const stats = (JSON.parse(r.stdout) as { stats64: { rx: { packets: number; bytes: number } } }[])[0].stats64.rx;
    packets += stats.packets;
    bytes += stats.bytes;
  }
  return { packets, bytes };
}

async function measure(lab: Lab, argv: string[]): Promise<{ pps: number; mbps: number }> {
  const before = await rxPackets(lab);
  const start = Date.now();
  await lab.exec("tg", argv, undefined, true);
  const seconds = (Date.now() - start) / 1000;
  const after = await rxPackets(lab);
  return { pps: (after.packets - before.packets) / seconds, mbps: ((after.bytes - before.bytes) * 8) / seconds / 1e6 };
}

type Mode = "plain" | "ecmp" | "maglev";

async function setMode(lab: Lab, mode: Mode): Promise<void> {
  symroute(["destroy", "--netns", lab.ns("fe")]);
  await lab.exec("fe", ["ip", "route", "del", LB.vip4], undefined, true);
  if (mode === "plain") await lab.exec("fe", ["ip", "route", "add", LB.vip4, "via", "172.16.0.6", "dev", "conduit-a"]);
  if (mode === "ecmp")
    await lab.exec("fe", ["ip", "route", "add", LB.vip4, ...LB.targets.flatMap((t) => ["nexthop", "via", t.v4, "dev", t.conduit === "a" ? "conduit-a" : "conduit-b"])]);
  if (mode === "maglev") symroute(["apply", examplePath("load-balancer.yaml"), "--netns", lab.ns("fe")]);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench needs root");
  if (spawnSync("which", ["iperf"]).status !== 0) spawnSync("apt-get", ["install", "-y", "-qq", "iperf"], { stdio: "inherit" });
  const lines = buildTimes();
  const lab = new Lab("b");
  const stop = async () => {
    await lab.teardown();
  };
  process.once("SIGINT", () => void stop().then(() => process.exit(130)));
  try {
    await buildLoadBalancer(lab);
    await lab.forwarding("fe");
    await lab.route("fe", "198.51.100.0/24", "via", "169.254.100.150");
    await lab.exec("fe", ["sysctl", "-q", "-w", "net/ipv4/fib_multipath_hash_policy=1"]);
    await lab.exec("tg", ["ethtool", "-K", "eth0", "tso", "off", "gso", "off"], undefined, true);
    for (const t of LB.targets) {
      lab.background(targetHost(t.name), ["iperf", "-s", "-u", "-B", LB.vip4, "-p", "5201"]);
      lab.background(targetHost(t.name), ["iperf", "-s", "-B", LB.vip4, "-p", "5202"]);
    }
    await new Promise((r) => setTimeout(r, 500));
    // iperf's ports must be in a flow of the balancer
    const cfg = readFileSync(examplePath("load-balancer.yaml"), "utf8").replace('destinationPorts: ["4000"]', 'destinationPorts: ["4000", "5201-5202"]').replace("protocols: [tcp]", "protocols: [tcp, udp]");
    const cfgFile = join(stateDir, "lb.yaml");
    writeFileSync(cfgFile, cfg);

    // a target change taking effect: the whole apply, against the first apply
    const first = symroute(["apply", cfgFile, "--netns", lab.ns("fe")]);
    const without = join(stateDir, "without.yaml");
    writeFileSync(without, cfg.replace(/\n      - \{ name: target-d[^\n]*/, ""));
    const change = symroute(["apply", without, "--netns", lab.ns("fe")]);
    symroute(["destroy", "--netns", lab.ns("fe")]);
    lines.push(`target removed, apply until in effect: ${change.toFixed(0)} ms (first apply ${first.toFixed(0)} ms, ${(change / first).toFixed(2)}x)`);

    const results: Record<Mode, { udp: number[]; tcp: number[]; setup: number[] }> = {
      plain: { udp: [], tcp: [], setup: [] },
      ecmp: { udp: [], tcp: [], setup: [] },
      maglev: { udp: [], tcp: [], setup: [] },
    };
    const sports = Array.from({ length: 200 }, (_, i) => 30000 + i * 3);
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of ["plain", "ecmp", "maglev"] as Mode[]) {
        if (mode === "maglev") {
          symroute(["destroy", "--netns", lab.ns("fe")]);
          await lab.exec("fe", ["ip", "route", "del", LB.vip4], undefined, true);
          symroute(["apply", cfgFile, "--netns", lab.ns("fe")]);
        } else await setMode(lab, mode);
        const udp = await measure(lab, ["iperf", "-c", LB.vip4, "-u", "-l", "64", "-b", "10000M", "-t", String(SECONDS), "-P", "4", "-p", "5201"]);
        const tcp = await measure(lab, ["iperf", "-c", LB.vip4, "-t", String(SECONDS), "-P", "4", "-p", "5202"]);
        const s = Date.now();
        const answered = await probe(lab, { vip: LB.vip4, port: LB.tcpPort, sports, concurrency: 1 });
        const setup = (Date.now() - s) / sports.length;
        if (mode !== "plain" && answered.some((a) => a === null)) throw new Error(`${mode}: some connections got no answer`);
        results[mode].udp.push(udp.pps);
        results[mode].tcp.push(tcp.mbps);
        results[mode].setup.push(setup);
      }
    }
    const m = (mode: Mode, k: "udp" | "tcp" | "setup") => median(results[mode][k]);
    lines.push(`forwarding through the frontend (medians of ${ROUNDS} alternated rounds, ${SECONDS} s each):`);
    lines.push(`  UDP 64-byte, packets/s received: plain ${m("plain", "udp").toFixed(0)}, ECMP ${m("ecmp", "udp").toFixed(0)}, maglev ${m("maglev", "udp").toFixed(0)} => maglev/ECMP ${(m("maglev", "udp") / m("ecmp", "udp")).toFixed(2)}, maglev/plain ${(m("maglev", "udp") / m("plain", "udp")).toFixed(2)}`);
    lines.push(`  TCP full-size, Mbit/s received: plain ${m("plain", "tcp").toFixed(0)}, ECMP ${m("ecmp", "tcp").toFixed(0)}, maglev ${m("maglev", "tcp").toFixed(0)} => maglev/ECMP ${(m("maglev", "tcp") / m("ecmp", "tcp")).toFixed(2)}, maglev/plain ${(m("maglev", "tcp") / m("plain", "tcp")).toFixed(2)}`);
    lines.push(`  TCP connection setup, ms each (200 in sequence): plain ${m("plain", "setup").toFixed(2)}, ECMP ${m("ecmp", "setup").toFixed(2)}, maglev ${m("maglev", "setup").toFixed(2)} => maglev/plain ${(m("maglev", "setup") / m("plain", "setup")).toFixed(2)}`);
  } finally {
    symroute(["destroy", "--netns", lab.ns("fe")]);
    await stop();
  }
  console.log("load-balancer benchmark:");
  for (const l of lines) console.log("  " + l);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
