/**
 * Benchmarks, printed as ratios measured side by side in one run:
 *  - `symroute apply` of a large config as a whole process, against the
 *    seed scripts' way (one `ip` process per rule or route, same objects),
 *    at two sizes to show how each grows;
 *  - a no-change re-apply, with `ip monitor` watching that nothing is written.
 * Needs root (network namespaces). Run with `npm run bench`.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const repo = join(import.meta.dirname, "..");
const stateDir = mkdtempSync(join(tmpdir(), "symroute-bench-"));
const ns = `srbench${process.pid}`;
const peer = `${ns}p`;

const ROUNDS = 3;

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function sh(argv: string[], input?: string): string {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", input });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function setupNamespace(uplinks: number): void {
  spawnSync("ip", ["netns", "del", ns]);
  spawnSync("ip", ["netns", "del", peer]);
  sh(["ip", "netns", "add", ns]);
  sh(["ip", "netns", "add", peer]);
  const batch: string[] = [];
  for (let i = 0; i < uplinks; i++) batch.push(`link add up${i} netns ${ns} type veth peer name p${i} netns ${peer}`);
  sh(["ip", "-batch", "-"], batch.join("\n") + "\n");
  const inner: string[] = [];
  for (let i = 0; i < uplinks; i++) {
    inner.push(`addr add 10.${100 + Math.floor(i / 250)}.${i % 250}.2/24 dev up${i}`, `link set up${i} up`);
  }
  sh(["ip", "-n", ns, "-batch", "-"], inner.join("\n") + "\n");
}

function teardown(): void {
  spawnSync("ip", ["netns", "del", ns]);
  spawnSync("ip", ["netns", "del", peer]);
}

function bigConfig(uplinks: number, services: number): string {
  const lines = ["version: 1", "allocate:", "  tables: 1000-1999", "  priorities: 1000-9999", "uplinks:"];
  for (let i = 0; i < uplinks; i++) {
    lines.push(`  - name: u${i}`, `    interface: up${i}`, `    gateway: 10.${100 + Math.floor(i / 250)}.${i % 250}.1`);
  }
  lines.push("services:");
  for (let s = 0; s < services; s++) {
    lines.push(`  - name: s${s}`, `    addresses: [172.${16 + Math.floor(s / 65536)}.${Math.floor(s / 256) % 256}.${s % 256}]`, `    uplink: u${s % uplinks}`, `    strategy: ${s % 2 === 0 ? "source" : "mark"}`);
  }
  return lines.join("\n") + "\n";
}

function symroute(args: string[]): { ms: number; out: string } {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [join(repo, "bin", "symroute.js"), ...args], { encoding: "utf8", maxBuffer: 1 << 28, env: { ...process.env, SYMROUTE_STATE_DIR: stateDir } });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`symroute ${args.join(" ")}: ${r.stderr}`);
  return { ms, out: r.stdout };
}

/** The seed scripts' way: one `ip` (or sysctl) process per object. */
function perObject(commands: string[]): void {
  for (const line of commands) {
    const words = line.split(" ");
    const r = spawnSync("ip", ["netns", "exec", ns, ...words], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${line}: ${r.stderr}`);
  }
}

async function watchWrites(fn: () => void): Promise<number> {
  const mon = spawn("ip", ["-n", ns, "monitor", "route", "rule", "link", "address"], { stdio: ["ignore", "pipe", "ignore"] });
  let events = 0;
  mon.stdout.on("data", (d: Buffer) => (events += d.toString().split("\n").filter(Boolean).length));
  await new Promise((r) => setTimeout(r, 300));
  fn();
  await new Promise((r) => setTimeout(r, 300));
  mon.kill();
  return events;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench needs root");
  const rows: string[] = [];
  for (const [uplinks, services] of [[16, 250], [64, 1000]] as const) {
    const file = join(stateDir, `big-${uplinks}-${services}.yaml`);
    writeFileSync(file, bigConfig(uplinks, services));

    setupNamespace(uplinks);
    const rendered = symroute(["render", file, "--format", "ip", "--netns", ns]).out.trim().split("\n");
    const nftText = symroute(["render", file, "--format", "nft", "--netns", ns]).out;
    const objects = rendered.length;
    const perObjectRuns: number[] = [];
    const applyRuns: number[] = [];
    const reapplyRuns: number[] = [];
    let events = -1;
    // alternate the two ways, three rounds each, and compare medians
    for (let round = 0; round < ROUNDS; round++) {
      setupNamespace(uplinks);
      const start = process.hrtime.bigint();
      perObject(rendered);
      sh(["ip", "netns", "exec", ns, "nft", "-f", "-"], nftText);
      perObjectRuns.push(Number(process.hrtime.bigint() - start) / 1e6);

      setupNamespace(uplinks);
      applyRuns.push(symroute(["apply", file, "--netns", ns]).ms);
      const seen = await watchWrites(() => {
        reapplyRuns.push(symroute(["apply", file, "--netns", ns, "--json"]).ms);
      });
      events = Math.max(events, seen);
      const again = symroute(["plan", file, "--netns", ns, "--json"]);
      if (JSON.parse(again.out).changes) throw new Error("re-plan after apply is not empty");
      symroute(["destroy", "--netns", ns]);
    }
    const perObjectMs = median(perObjectRuns);
    const apply = { ms: median(applyRuns) };
    const reapplyMs = median(reapplyRuns);
    rows.push(
      `${String(uplinks).padStart(3)} uplinks, ${String(services).padStart(4)} services (${objects} ip objects + nft table): ` +
        `per-object ${perObjectMs.toFixed(0)} ms, symroute apply ${apply.ms.toFixed(0)} ms => ${(perObjectMs / apply.ms).toFixed(1)}x faster; ` +
        `no-change re-apply ${reapplyMs.toFixed(0)} ms (${(reapplyMs / apply.ms).toFixed(2)}x of a full apply), kernel events during it: ${events}`,
    );
  }
  teardown();
  console.log(`apply benchmark (whole processes, same objects, medians of ${ROUNDS} alternated rounds in one run):`);
  for (const r of rows) console.log("  " + r);
}

main().catch((e) => {
  teardown();
  console.error(e);
  process.exit(1);
});
