/**
 * The load balancer's fast path (issue 19) against the routed path and the
 * kernel's own forwarding, as ratios of medians measured side by side in one
 * run on the load-balancer lab (tg -> gw -> fe -> four targets). Six ways
 * alternate round after round: plain forwarding to one target, kernel ECMP
 * over the four (fib_multipath_hash_policy=1), the routed path, the routed
 * path with flow memory, the fast path, the fast path with flow memory.
 * Measured: 64-byte UDP (packets/s received by the targets) with 1, 8 and 32
 * flows; full-size TCP (Mbit/s, segmentation offload off on the client) with 1
 * and 8 streams; TCP connection setup (200 in sequence). Then the time of one
 * target change at 1000 targets (a whole `symroute apply`), routed path only
 * against both paths.
 * Needs root and iperf2. Namespaces srhfb*, removed at the end and on failure.
 * Run with `npm run -s build && flock /tmp/symroute-kernel.lock npx tsx bench/fastPath.ts`.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Lab } from "../src/lab/lab.js";
import { buildLoadBalancer, LB, probe, targetHost } from "../src/lab/loadBalancer.js";
import { examplePath } from "../src/lab/examples.js";

const repo = join(import.meta.dirname, "..");
const stateDir = mkdtempSync(join(tmpdir(), "symroute-fpbench-"));
const ROUNDS = Number(process.env.FP_ROUNDS ?? 3);
const SECONDS = Number(process.env.FP_SECS ?? 2);
const TARGETS = Number(process.env.FP_TARGETS ?? 1000);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function symroute(args: string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [join(repo, "bin", "symroute.js"), ...args], { encoding: "utf8", env: { ...process.env, SYMROUTE_STATE_DIR: stateDir } });
  if (r.status !== 0) throw new Error(`symroute ${args.join(" ")}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function received(lab: Lab): Promise<{ packets: number; bytes: number }> {
  let packets = 0;
  let bytes = 0;
  for (const t of LB.targets) {
    const r = await lab.exec(targetHost(t.name), ["ip", "-s", "-j", "link", "show", "eth0"]);
    const rx = (JSON.parse(r.stdout) as { stats64: { rx: { packets: number; bytes: number } } }[])[0].stats64.rx;
    packets += rx.packets;
    bytes += rx.bytes;
  }
  return { packets, bytes };
}

async function measure(lab: Lab, argv: string[]): Promise<{ pps: number; mbps: number }> {
  const before = await received(lab);
  const start = Date.now();
  await lab.exec("tg", argv, undefined, true);
  const seconds = (Date.now() - start) / 1000;
  const after = await received(lab);
  return { pps: (after.packets - before.packets) / seconds, mbps: ((after.bytes - before.bytes) * 8) / seconds / 1e6 };
}

const MODES = ["plain", "ecmp", "routed", "routedMemory", "fast", "fastMemory"] as const;
type Mode = (typeof MODES)[number];
const KINDS = ["udp1", "udp8", "udp32", "tcp1", "tcp8", "setup"] as const;
type Kind = (typeof KINDS)[number];

/** The lab's example with iperf's ports in a flow, and the variants of each mode. */
function configs(): Record<"routed" | "routedMemory" | "fast" | "fastMemory", string> {
  const cfg = readFileSync(examplePath("load-balancer.yaml"), "utf8").replace('destinationPorts: ["4000"]', 'destinationPorts: ["4000", "5201-5202"]').replace("protocols: [tcp]", "protocols: [tcp, udp]");
  const memory = (t: string) => t.replace("    flows:", "    flowMemory: { timeout: 120s }\n    flows:");
  const fast = (t: string) => t.replace("    flows:", "    fastPath: { ingress: [ext-vlan0] }\n    flows:");
  const file = (name: string, text: string) => {
    const path = join(stateDir, `${name}.yaml`);
    writeFileSync(path, text);
    return path;
  };
  return { routed: file("routed", cfg), routedMemory: file("routedMemory", memory(cfg)), fast: file("fast", fast(cfg)), fastMemory: file("fastMemory", fast(memory(cfg))) };
}

async function setMode(lab: Lab, mode: Mode, files: ReturnType<typeof configs>): Promise<void> {
  symroute(["destroy", "--netns", lab.ns("fe")]);
  await lab.exec("fe", ["ip", "route", "del", LB.vip4], undefined, true);
  if (mode === "plain") await lab.exec("fe", ["ip", "route", "add", LB.vip4, "via", "172.16.0.6", "dev", "conduit-a"]);
  else if (mode === "ecmp") await lab.exec("fe", ["ip", "route", "add", LB.vip4, ...LB.targets.flatMap((t) => ["nexthop", "via", t.v4, "dev", t.conduit === "a" ? "conduit-a" : "conduit-b"])]);
  else symroute(["apply", files[mode], "--netns", lab.ns("fe")]);
}

/** A balancer of n targets on conduit-a (vias in 10.64.0.0/20), IPv4 only, with or without the fast path. */
function bigConfig(n: number, fast: boolean, skip = -1): string {
  const via = (i: number) => `10.64.${(i + 2) >> 8}.${(i + 2) & 255}`;
  const targets = Array.from({ length: n }, (_, i) => i)
    .filter((i) => i !== skip)
    .map((i) => `      - { name: t${i}, via: ${via(i)}, interface: conduit-a }`);
  return [
    "version: 1",
    "allocate: { tables: 1000-2999, priorities: 1000-2999, markMask: 0x03ff0000 }",
    "loadBalancers:",
    "  - name: big",
    "    vips: [20.0.0.1]",
    "    maglev: { size: 65537 }",
    ...(fast ? ["    fastPath: { ingress: [ext-vlan0] }"] : []),
    "    flows:",
    '      - { name: tcp, priority: 1, protocols: [tcp, udp], destinationPorts: ["4000"] }',
    "    targets:",
    ...targets,
    "",
  ].join("\n");
}

async function targetChange(lab: Lab): Promise<string[]> {
  await lab.addr("fe", "conduit-a", "10.64.0.1/20");
  const out: string[] = [];
  const times: Record<string, number[]> = { routed: [], both: [] };
  for (let round = 0; round < 3; round++)
    for (const [name, fast] of [["routed", false], ["both", true]] as const) {
      symroute(["destroy", "--netns", lab.ns("fe")]);
      const all = join(stateDir, `big-${name}.yaml`);
      const less = join(stateDir, `big-${name}-less.yaml`);
      writeFileSync(all, bigConfig(TARGETS, fast));
      writeFileSync(less, bigConfig(TARGETS, fast, 500));
      symroute(["apply", all, "--netns", lab.ns("fe")]);
      times[name].push(symroute(["apply", less, "--netns", lab.ns("fe")]));
    }
  symroute(["destroy", "--netns", lab.ns("fe")]);
  await lab.exec("fe", ["ip", "addr", "del", "10.64.0.1/20", "dev", "conduit-a"]);
  const r = median(times.routed);
  const b = median(times.both);
  out.push(`one target removed of ${TARGETS} (Maglev 65537), apply until in effect, median of 3: routed path only ${r.toFixed(0)} ms, routed + fast path ${b.toFixed(0)} ms => ${(b / r).toFixed(2)}x`);
  return out;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench needs root");
  // each figure printed as soon as it is known, so a failure later still leaves the earlier ones
  const say = (l: string) => console.log("  " + l);
  console.log("load-balancer fast path benchmark:");
  say(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(" ")} (2 cores shared)`);
  const lab = new Lab("b", "srhf");
  process.once("SIGINT", () => void lab.teardown().then(() => process.exit(130)));
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
    const files = configs();
    const results = Object.fromEntries(MODES.map((m) => [m, Object.fromEntries(KINDS.map((k) => [k, [] as number[]]))])) as Record<Mode, Record<Kind, number[]>>;
    const sports = Array.from({ length: 200 }, (_, i) => 30000 + i * 3);
    const udp = (flows: number) => ["iperf", "-c", LB.vip4, "-u", "-l", "64", "-b", "10000M", "-t", String(SECONDS), "-P", String(flows), "-p", "5201"];
    const tcp = (streams: number) => ["iperf", "-c", LB.vip4, "-t", String(SECONDS), "-P", String(streams), "-p", "5202"];
    for (let round = 0; round < ROUNDS; round++) {
      // the order turns each round, so no way always follows the same other
      const order = [...MODES.slice(round % MODES.length), ...MODES.slice(0, round % MODES.length)];
      for (const mode of order) {
        await setMode(lab, mode, files);
        results[mode].udp1.push((await measure(lab, udp(1))).pps);
        results[mode].udp8.push((await measure(lab, udp(8))).pps);
        results[mode].udp32.push((await measure(lab, udp(32))).pps);
        results[mode].tcp1.push((await measure(lab, tcp(1))).mbps);
        results[mode].tcp8.push((await measure(lab, tcp(8))).mbps);
        const s = Date.now();
        const answered = await probe(lab, { vip: LB.vip4, port: LB.tcpPort, sports: sports.map((p) => p + round), concurrency: 1 });
        results[mode].setup.push((Date.now() - s) / sports.length);
        if (mode !== "plain" && answered.some((a) => a === null)) throw new Error(`${mode}: some connections got no answer`);
      }
    }
    const m = (mode: Mode, k: Kind) => median(results[mode][k]);
    const unit: Record<Kind, string> = { udp1: "UDP 64 B, 1 flow, pkt/s", udp8: "UDP 64 B, 8 flows, pkt/s", udp32: "UDP 64 B, 32 flows, pkt/s", tcp1: "TCP full size, 1 stream, Mbit/s", tcp8: "TCP full size, 8 streams, Mbit/s", setup: "TCP connection setup, ms each (lower is better)" };
    say(`forwarding through the frontend, medians of ${ROUNDS} alternated rounds, ${SECONDS} s per measure:`);
    for (const k of KINDS) {
      say(`  ${unit[k]}: ${MODES.map((mode) => `${mode} ${m(mode, k).toFixed(k === "setup" ? 2 : 0)}`).join(", ")}`);
      // for setup a time: the ratio is inverted so that above 1 is better everywhere
      const r = (a: Mode, b: Mode) => (k === "setup" ? m(b, k) / m(a, k) : m(a, k) / m(b, k)).toFixed(2);
      say(`    fast/ECMP ${r("fast", "ecmp")}, fast/routed ${r("fast", "routed")}, fast+memory/fast ${r("fastMemory", "fast")}, fast+memory/routed+memory ${r("fastMemory", "routedMemory")}, routed/ECMP ${r("routed", "ecmp")}, fast/plain ${r("fast", "plain")}`);
    }
    for (const l of await targetChange(lab)) say(l);
    say(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  } finally {
    symroute(["destroy", "--netns", lab.ns("fe")]);
    await lab.teardown();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
