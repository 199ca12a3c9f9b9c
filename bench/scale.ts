/**
 * Scale benchmark (issue 9): do compile, plan and apply grow linearly?
 * Configs of one shape at 1x, 4x and 16x, each applied by the CLI in a fresh
 * network namespace, with the ratio of every step to the one before it
 * (linear growth keeps it near 4, quadratic near 16):
 *  - uplinks and services: 50/200/800 uplinks (one veth each) with
 *    1000/4000/16000 services, half pinned by source, half by mark;
 *  - a load balancer of 62/250/1000 targets (Maglev tables of 8209, 32779
 *    and 131101 entries), and at 1000 targets a one-target change in place.
 * Each CLI run is timed as a whole process, with its peak RSS (the largest of
 * the process and its children, as /usr/bin/time reports it). Compile and plan
 * are also timed in this process, without the kernel (medians of several runs).
 * Needs root; namespaces are named sc-PID-... and removed at the end.
 * Run with `npm run bench` (which builds first) or `tsx bench/scale.ts`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfigText } from "../src/config/load.js";
import { compile } from "../src/compile/index.js";
import { makePlan, nftDesiredText } from "../src/plan/plan.js";
import { listingFingerprint, structureOf, type NftObject } from "../src/plan/nftListing.js";
import { replaceTableCommands } from "../src/model/nftTable.js";
import { SYMROUTE_PROTO } from "../src/model/ownership.js";
import type { Desired } from "../src/model/desired.js";
import type { LiveState } from "../src/plan/live.js";
import type { ResolvedConfig } from "../src/config/resolved.js";

const repo = join(import.meta.dirname, "..");
const cliPath = join(repo, "dist", "symroute.mjs");
const work = mkdtempSync(join(tmpdir(), "symroute-scale-"));
const prefix = `sc-${process.pid}`;
const made: string[] = [];

function sh(argv: string[], input?: string): string {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", input, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function addNs(name: string): string {
  spawnSync("ip", ["netns", "del", name]);
  sh(["ip", "netns", "add", name]);
  made.push(name);
  sh(["ip", "-n", name, "link", "set", "lo", "up"]);
  return name;
}

function teardown(): void {
  for (const ns of made.splice(0)) spawnSync("ip", ["netns", "del", ns]);
}

/** One CLI run as a whole process: wall time and peak RSS. */
function cli(args: string[]): { ms: number; mb: number; out: string } {
  const times = join(work, "time.txt");
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", "-o", times, process.execPath, cliPath, ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
    env: { ...process.env, SYMROUTE_STATE_DIR: join(work, "state") },
  });
  if (r.status !== 0) throw new Error(`symroute ${args.join(" ")} (exit ${r.status}): ${r.stderr}`);
  const [seconds, kb] = readFileSync(times, "utf8").trim().split("\n").pop()!.split(" ").map(Number);
  return { ms: seconds * 1000, mb: kb / 1024, out: r.stdout };
}

/** The median time of `runs` calls (the first ones pay for the JIT and the garbage of the size before). */
function inProcess<T>(fn: () => T, runs: number): { ms: number; value: T } {
  const times: number[] = [];
  let value!: T;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    value = fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return { ms: times.sort((x, y) => x - y)[Math.floor(runs / 2)], value };
}

const ip4 = (i: number, last: number) => `10.${100 + Math.floor(i / 250)}.${i % 250}.${last}`;

function uplinkConfig(uplinks: number, services: number): string {
  const lines = ["version: 1", "allocate:", "  tables: 1000-1999", "  priorities: 1000-29999", "  markMask: 0x0fff0000", "uplinks:"];
  for (let i = 0; i < uplinks; i++) lines.push(`  - { name: u${i}, interface: up${i}, gateway: ${ip4(i, 1)} }`);
  lines.push("services:");
  for (let s = 0; s < services; s++)
    lines.push(`  - { name: s${s}, addresses: [172.${16 + Math.floor(s / 65536)}.${Math.floor(s / 256) % 256}.${s % 256}], uplink: u${s % uplinks}, strategy: ${s % 2 ? "mark" : "source"} }`);
  return lines.join("\n") + "\n";
}

function uplinkHost(uplinks: number): string {
  const ns = addNs(`${prefix}-u${uplinks}`);
  const peer = addNs(`${prefix}-p${uplinks}`);
  const outer: string[] = [];
  const inner: string[] = [];
  for (let i = 0; i < uplinks; i++) {
    outer.push(`link add up${i} netns ${ns} type veth peer name p${i} netns ${peer}`);
    inner.push(`addr add ${ip4(i, 2)}/24 dev up${i}`, `link set up${i} up`);
  }
  sh(["ip", "-batch", "-"], outer.join("\n") + "\n");
  sh(["ip", "-n", ns, "-batch", "-"], inner.join("\n") + "\n");
  return ns;
}

const target = (i: number) => `      - { name: t${String(i).padStart(4, "0")}, via: 172.16.${Math.floor(i / 250)}.${(i % 250) + 2}, interface: conduit }`;

function balancerConfig(targets: number, skip = -1): string {
  const lines = [
    "version: 1",
    "allocate:",
    "  tables: 10000-19999",
    "  priorities: 1000-9999",
    "  markMask: 0x0fff0000",
    "loadBalancers:",
    "  - name: big",
    "    vips: [20.0.0.1]",
    "    flows:",
    '      - { name: tcp, priority: 1, protocols: [tcp], destinationPorts: ["4000"] }',
    "    targets:",
  ];
  for (let i = 0; i < targets; i++) if (i !== skip) lines.push(target(i));
  lines.push("    egress: { gateway: 169.254.100.150, interface: ext, table: 4096 }");
  return lines.join("\n") + "\n";
}

function balancerHost(targets: number): string {
  const ns = addNs(`${prefix}-b${targets}`);
  sh(["ip", "-n", ns, "-batch", "-"], [
    "link add conduit type veth peer name conduitp",
    "addr add 172.16.0.1/16 dev conduit",
    "link set conduit up",
    "link set conduitp up",
    "link add ext type veth peer name extp",
    "addr add 169.254.100.1/24 dev ext",
    "link set ext up",
    "link set extp up",
    "",
  ].join("\n"));
  return ns;
}

function load(text: string): ResolvedConfig {
  const loaded = loadConfigText(text, "scale.yaml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues.slice(0, 3)));
  return loaded.value;
}

/** The kernel as plan would read it right after applying `desired` (a terse nft listing). */
function liveAfter(desired: Desired): LiveState {
  const listing = desired.nft ? structureOf(replaceTableCommands(desired.nft).slice(2).map((c) => (c as { add: NftObject }).add)) : null;
  return {
    rules: desired.rules.map((value) => ({ value, protocol: SYMROUTE_PROTO })),
    routes: desired.routes.map((value) => ({ value, protocol: SYMROUTE_PROTO })),
    nft: listing,
    sysctls: Object.fromEntries(desired.sysctls.map((s) => [s.key, s.value])),
    interfaces: [],
  };
}

interface Row {
  label: string;
  size: string;
  values: Record<string, number>;
}

function pure(text: string, facts: Parameters<typeof compile>[1]): Record<string, number> {
  const resolved = load(text);
  const compiled = inProcess(() => compile(resolved, facts), 5);
  const desired = compiled.value.desired;
  const live = liveAfter(desired);
  const applied = { nftDesired: nftDesiredText(desired.nft), nftLive: listingFingerprint(live.nft), desired: { nft: desired.nft } };
  const planned = inProcess(() => makePlan({ desired, live, applied, sysctlOriginals: {}, priorities: resolved.priorities }), 9);
  if (planned.value.nft.action !== "none") throw new Error("plan after apply is not empty");
  return { "pure compile ms": compiled.ms, "pure plan ms": planned.ms };
}

function uplinkRows(): Row[] {
  const rows: Row[] = [];
  for (const [uplinks, services] of [[50, 1000], [200, 4000], [800, 16000]] as const) {
    const text = uplinkConfig(uplinks, services);
    const file = join(work, `uplinks-${uplinks}.yaml`);
    writeFileSync(file, text);
    const links = Object.fromEntries(Array.from({ length: uplinks }, (_, i) => [`up${i}`, { addresses: [`${ip4(i, 2)}/24`] }]));
    const values = pure(text, { links, rpFilter: {} });
    const ns = uplinkHost(uplinks);
    const apply = cli(["apply", file, "--netns", ns]);
    const plan = cli(["plan", file, "--netns", ns, "--json"]);
    if (JSON.parse(plan.out).changes) throw new Error("re-plan after apply is not empty");
    const status = cli(["status", "--netns", ns]);
    const nftText = sh(["ip", "netns", "exec", ns, "nft", "list", "table", "inet", "symroute"]);
    cli(["destroy", "--netns", ns]);
    teardown();
    rows.push({
      label: "uplinks+services",
      size: `${uplinks} uplinks, ${services} services`,
      values: { ...values, "apply ms": apply.ms, "apply MB": apply.mb, "plan ms": plan.ms, "status ms": status.ms, "nft table KB": nftText.length / 1024 },
    });
  }
  return rows;
}

function balancerRows(): { rows: Row[]; change: string[] } {
  const rows: Row[] = [];
  const change: string[] = [];
  for (const targets of [62, 250, 1000]) {
    const text = balancerConfig(targets);
    const file = join(work, `lb-${targets}.yaml`);
    writeFileSync(file, text);
    const values = pure(text, { links: {}, rpFilter: {} });
    const ns = balancerHost(targets);
    const apply = cli(["apply", file, "--netns", ns]);
    const plan = cli(["plan", file, "--netns", ns, "--json"]);
    if (JSON.parse(plan.out).changes) throw new Error("re-plan after apply is not empty");
    const status = cli(["status", "--netns", ns]);
    rows.push({ label: "load balancer", size: `${targets} targets`, values: { ...values, "apply ms": apply.ms, "apply MB": apply.mb, "plan ms": plan.ms, "status ms": status.ms } });
    if (targets === 1000) {
      // the last target in name order (its removal moves no other target's mark) and the first (every later mark moves down)
      for (const [which, skip] of [["last", targets - 1], ["first", 0]] as const) {
        const without = join(work, `lb-${targets}-no-${which}.yaml`);
        writeFileSync(without, balancerConfig(targets, skip));
        const planned = JSON.parse(cli(["plan", without, "--netns", ns, "--json"]).out) as { plan: { nft: { action: string; reason?: string } } };
        const removed = cli(["apply", without, "--netns", ns]);
        const restored = cli(["apply", file, "--netns", ns]);
        change.push(
          `1000 targets, remove the ${which} target: ${removed.ms.toFixed(0)} ms, peak ${removed.mb.toFixed(0)} MB; put it back: ${restored.ms.toFixed(0)} ms, peak ${restored.mb.toFixed(0)} MB ` +
            `(nft ${planned.plan.nft.action}${planned.plan.nft.reason ? `: ${planned.plan.nft.reason}` : ""})`,
        );
      }
    }
    cli(["destroy", "--netns", ns]);
    teardown();
  }
  return { rows, change };
}

function print(rows: Row[]): void {
  const keys = Object.keys(rows[0].values);
  console.log(`  ${"".padEnd(32)} ${keys.map((k) => k.padStart(13)).join(" ")}`);
  rows.forEach((row, i) => {
    console.log(`  ${row.size.padEnd(32)} ${keys.map((k) => row.values[k].toFixed(k.endsWith("ms") ? 0 : 1).padStart(13)).join(" ")}`);
    if (i > 0) {
      const prev = rows[i - 1];
      console.log(`  ${"  x previous".padEnd(32)} ${keys.map((k) => (row.values[k] / prev.values[k]).toFixed(2).padStart(13)).join(" ")}`);
    }
  });
}

function main(): void {
  if (process.getuid?.() !== 0) throw new Error("bench needs root (network namespaces)");
  if (!existsSync(cliPath)) throw new Error(`${cliPath} missing: run npm run -s build first`);
  if (!existsSync("/usr/bin/time")) throw new Error("/usr/bin/time missing (Debian: apt-get install time): it reports each run's peak RSS");
  process.once("SIGINT", () => {
    teardown();
    process.exit(130);
  });
  console.log("scale benchmark: each size 4x the one before; linear growth keeps 'x previous' near 4 (quadratic: 16)");
  console.log("uplinks and services (apply, plan and status are whole CLI runs; compile and plan ms are in-process too):");
  const uplinks = uplinkRows();
  print(uplinks);
  console.log("load balancer (one VIP, one flow; Maglev table of about 131 entries per target):");
  const lb = balancerRows();
  print(lb.rows);
  for (const line of lb.change) console.log(`  ${line}`);
}

try {
  main();
} catch (e) {
  teardown();
  console.error(e);
  process.exit(1);
}
