/**
 * Daemon benchmark (issue 10): how fast `symroute run` repairs drift, what it
 * costs while idle, and whether storms of kernel events make it re-read the
 * kernel once per event. All figures come from one run, printed side by side:
 *  1. repair latency, p50/p95 over 100 injected faults of each kind (an owned
 *     rule deleted, an owned route deleted, `inet symroute` flushed and deleted,
 *     an uplink's rp_filter changed, a link flap, an uplink's address moved),
 *     from just before the fault command to the moment the bench's OWN
 *     `ip monitor` / `nft monitor` shows the repaired object; the daemon's own
 *     `latencyMs` (first event to read-back) is printed beside it;
 *  2. idle CPU (daemon, its monitors and its reaped children, from
 *     /proc/PID/stat) and RSS of a daemon with 64 uplinks and 1000 services
 *     over 60 s, periodic full reconciles included;
 *  3. storms: 10,000 foreign route changes (table 77, then main; then table 77
 *     with one owned rule deleted midway: with /v1/status polled during it,
 *     without, and with the daemon stopped for 1 s), and 1000 changes to the
 *     daemon's own rules (one batch, then one `ip` at a time): reconciles and
 *     events seen, from GET /v1/status on the daemon's socket, and the owned
 *     objects the daemon itself deleted (rollbacks of failed repairs).
 * Needs root and a built CLI (`npm run -s build`). Namespaces are named
 * bd-PID-*, removed at the end and on failure; SYMROUTE_STATE_DIR is a
 * temporary directory. BD_FAULTS and BD_IDLE_S shorten a trial run;
 * BD_LOG=PREFIX keeps each daemon's log as PREFIX-NAMESPACE.jsonl.
 * Run with `tsx bench/daemon.ts` (`npm run bench` runs it last).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const repo = join(import.meta.dirname, "..");
const cliPath = join(repo, "bin", "symroute.js");
const work = mkdtempSync(join(tmpdir(), "symroute-bd-"));
const stateDir = join(work, "state");
const prefix = `bd-${process.pid}`;
const FAULTS = Number(process.env.BD_FAULTS ?? 100);
const IDLE_S = Number(process.env.BD_IDLE_S ?? 60);
const BIG_FAULTS = 20;
/** a fault not repaired within this long counts as not repaired */
const REPAIR_TIMEOUT_MS = 5000;
/** quiet time after the daemon's follow-up reconcile before the next fault, so faults do not overlap */
const QUIET_MS = 100;
const SYMROUTE_PROTO = 97;
const CLK_TCK = 100;

// ---------------------------------------------------------------- processes

/** Wakes every waiter when any watched process prints a line. */
const bus = new EventEmitter();
bus.setMaxListeners(0);

/** Resolves with the first non-null `check()` (tried on every new line and every 10 ms), or null after `timeoutMs`. */
function until<T>(check: () => T | null, timeoutMs: number): Promise<T | null> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: T | null) => {
      if (done) return;
      done = true;
      bus.off("line", poll);
      clearInterval(tick);
      clearTimeout(limit);
      resolve(v);
    };
    const poll = () => {
      const v = check();
      if (v !== null) finish(v);
    };
    bus.on("line", poll);
    const tick = setInterval(poll, 10);
    const limit = setTimeout(() => finish(null), timeoutMs);
    poll();
  });
}

interface Line {
  /** performance.now() when the line was read */
  t: number;
  text: string;
  json?: Record<string, unknown>;
}

const streams = new Set<LineStream>();

/** A long-lived child whose stdout lines are kept with the time they arrived. */
class LineStream {
  readonly lines: Line[] = [];
  readonly child: ChildProcess;
  stderr = "";

  constructor(argv: string[], opts: { env?: NodeJS.ProcessEnv; json?: boolean } = {}) {
    this.child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env: opts.env ?? process.env });
    streams.add(this);
    let rest = "";
    this.child.stdout!.on("data", (d: Buffer) => {
      const t = performance.now();
      const parts = (rest + d.toString()).split("\n");
      rest = parts.pop() ?? "";
      for (const p of parts) {
        if (!p.trim()) continue;
        if (opts.json) {
          let json: Record<string, unknown> | undefined;
          try {
            json = JSON.parse(p) as Record<string, unknown>;
          } catch {
            json = undefined;
          }
          this.lines.push({ t, text: p, json });
        } else if (!/^\s/.test(p)) {
          // continuation lines ("    link/ether ...", "valid_lft ...") name no object of their own
          this.lines.push({ t, text: p.replace(/\s+/g, " ").trim() });
        }
      }
      bus.emit("line");
    });
    this.child.stderr!.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-200_000);
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Time of the last line (0 when none). */
  get last(): number {
    return this.lines.length ? this.lines[this.lines.length - 1].t : 0;
  }

  async stop(): Promise<void> {
    streams.delete(this);
    if (!this.alive) return;
    const exited = new Promise<void>((r) => this.child.once("exit", () => r()));
    this.child.kill("SIGTERM");
    const killer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(killer);
  }
}

interface RunResult {
  code: number;
  out: string;
  err: string;
}

function run(argv: string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(argv[0], argv.slice(1), { stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    c.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    c.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    c.on("error", reject);
    c.on("close", (code) => resolve({ code: code ?? -1, out, err }));
    if (input !== undefined) c.stdin!.end(input);
  });
}

async function ok(argv: string[], input?: string): Promise<string> {
  const r = await run(argv, input);
  if (r.code !== 0) throw new Error(`${argv.join(" ")}: ${r.err.trim()}`);
  return r.out;
}

function sh(argv: string[], input?: string): string {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", input, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

// ---------------------------------------------------------------- namespaces and cleanup

const namespaces: string[] = [];

/** Namespaces bd-PID-* left by an earlier run that was killed (its PID is gone). */
function removeStale(): void {
  const dir = "/var/run/netns";
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const m = /^bd-([0-9]+)-/.exec(name);
    if (m && Number(m[1]) !== process.pid && !existsSync(`/proc/${m[1]}`)) spawnSync("ip", ["netns", "del", name]);
  }
}

function addNs(name: string): void {
  spawnSync("ip", ["netns", "del", name]);
  sh(["ip", "netns", "add", name]);
  namespaces.push(name);
}

const beds = new Set<Bed>();

let cleaned = false;
async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  for (const b of beds) await b.stop();
  await Promise.all([...streams].map((s) => s.stop()));
  for (const ns of namespaces.splice(0)) spawnSync("ip", ["netns", "del", ns]);
  rmSync(work, { recursive: true, force: true });
}

// ---------------------------------------------------------------- statistics

function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

// ---------------------------------------------------------------- kernel snapshots

/** What symroute owns in a namespace, normalized, for before/after comparison. */
interface Snap {
  rules4: string[];
  rules6: string[];
  routes: string[];
  nft: string;
  sysctl: string;
}

const norm = (s: string) => s.replace(/\s+/g, " ").trim();
const lines = (s: string) => s.split("\n").map(norm).filter(Boolean);
const owned = (l: string) => new RegExp(`\\bproto ${SYMROUTE_PROTO}\\b`).test(l);

function diffSnap(want: Snap, got: Snap): string | null {
  for (const k of ["rules4", "rules6", "routes"] as const) {
    const w = new Set(want[k]);
    const g = new Set(got[k]);
    const missing = [...w].filter((x) => !g.has(x));
    const extra = [...g].filter((x) => !w.has(x));
    if (missing.length || extra.length) return `${k}: missing [${missing.join("; ")}] extra [${extra.join("; ")}]`;
  }
  if (want.nft !== got.nft) return "nft table differs";
  if (want.sysctl !== got.sysctl) return `sysctls: want ${want.sysctl} got ${got.sysctl}`;
  return null;
}

// ---------------------------------------------------------------- a namespace with a daemon

interface Sample {
  kind: string;
  /** fault to repaired kernel, as the bench's monitors saw it; null: not repaired in time */
  ms: number | null;
  /** the daemon's latencyMs of the reconcile that repaired it */
  daemonMs: number | null;
  reconciles: number;
  repairs: number;
  failed: number;
  /** the kernel after settling differs from what it should be */
  error: string | null;
}

interface Fault {
  kind: string;
  argv: string[];
  input?: string;
  /** when the repair was complete (performance.now()), from the monitor lines after the fault; null while not */
  repairedAt: () => number | null;
  /** the snapshot the kernel should show after the repair (default: as before) */
  expect?: Snap;
}

interface Status {
  reconciles: number;
  failed: number;
  seen: number;
  relevant: number;
}

class Bed {
  readonly ns: string;
  readonly peer: string;
  readonly devs: string[];
  ip!: LineStream;
  nft!: LineStream;
  daemon!: LineStream;
  base!: Snap;
  /** rules in symroute's nft table: the re-created table is complete when as many "add rule" lines were seen */
  nftRules = 0;
  private diagnosed = false;
  /** the current IPv4 address of each uplink (the address fault moves it) */
  readonly addr4 = new Map<string, string>();

  constructor(
    name: string,
    readonly uplinks: number,
    readonly v6: boolean,
  ) {
    this.ns = `${prefix}-${name}`;
    this.peer = `${prefix}-${name}p`;
    this.devs = Array.from({ length: uplinks }, (_, i) => `up${i}`);
    beds.add(this);
  }

  static v4(i: number, last: number): string {
    return `10.${100 + Math.floor(i / 250)}.${i % 250}.${last}`;
  }

  static v6(i: number, last: number): string {
    return `fd00:${100 + i}::${last}`;
  }

  setup(): void {
    addNs(this.ns);
    addNs(this.peer);
    // promote_secondaries: deleting the old primary address must keep the new one (systemd sets it too);
    // accept_dad 0: addresses re-added after a flap are usable at once, so no late address event trails a fault
    const dflt = ["net.ipv4.conf.all.promote_secondaries=1", "net.ipv4.conf.default.promote_secondaries=1", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"];
    sh(["ip", "netns", "exec", this.ns, "sysctl", "-q", "-w", ...dflt]);
    sh(["ip", "-batch", "-"], this.devs.map((d, i) => `link add ${d} netns ${this.ns} type veth peer name p${i} netns ${this.peer}`).join("\n") + "\n");
    const perDev = this.devs.flatMap((d) => [`net.ipv4.conf.${d}.promote_secondaries=1`, `net.ipv6.conf.${d}.accept_dad=0`]);
    sh(["ip", "netns", "exec", this.ns, "sysctl", "-q", "-w", ...perDev]);
    const inner = ["link set lo up"];
    this.devs.forEach((d, i) => {
      inner.push(`addr add ${Bed.v4(i, 2)}/24 dev ${d}`);
      if (this.v6) inner.push(`addr add ${Bed.v6(i, 2)}/64 dev ${d} nodad`);
      inner.push(`link set ${d} up`);
      this.addr4.set(d, Bed.v4(i, 2));
    });
    sh(["ip", "-n", this.ns, "-batch", "-"], inner.join("\n") + "\n");
    sh(["ip", "-n", this.peer, "-batch", "-"], this.devs.map((_, i) => `link set p${i} up`).join("\n") + "\n");
  }

  config(services: number): string {
    const out = ["version: 1", "allocate:", "  tables: 1000-1999", "  priorities: 1000-9999", "uplinks:"];
    this.devs.forEach((d, i) => {
      // no `addresses:`: the uplinks follow their interface's addresses, which the address fault relies on
      out.push(`  - name: u${i}`, `    interface: ${d}`, `    gateway: ${Bed.v4(i, 1)}`);
      if (this.v6) out.push(`    gateway6: ${Bed.v6(i, 1)}`);
    });
    out.push("services:");
    for (let s = 0; s < services; s++) {
      out.push(`  - name: s${s}`, `    addresses: [172.${16 + Math.floor(s / 65536)}.${Math.floor(s / 256) % 256}.${s % 256}]`, `    uplink: u${s % this.uplinks}`, `    strategy: ${s % 2 === 0 ? "source" : "mark"}`);
    }
    return out.join("\n") + "\n";
  }

  get socket(): string {
    return join(stateDir, `netns-${this.ns}.sock`);
  }

  async start(services: number): Promise<number> {
    // the bench's own monitors start first, so they see everything the daemon does
    this.ip = new LineStream(["ip", "-n", this.ns, "monitor", "link", "address", "route", "rule", "netconf"]);
    this.nft = new LineStream(["ip", "netns", "exec", this.ns, "nft", "monitor"]);
    await sleep(200);
    const file = join(work, `${this.ns}.yaml`);
    writeFileSync(file, this.config(services));
    const started = performance.now();
    this.daemon = new LineStream([process.execPath, cliPath, "run", file, "--netns", this.ns, "--metrics", "off", "--log-level", "debug"], { env: { ...process.env, SYMROUTE_STATE_DIR: stateDir }, json: true });
    const ready = await until(() => (this.daemon.lines.some((l) => l.json?.msg === "ready") ? true : !this.daemon.alive ? false : null), 120_000);
    if (!ready) throw new Error(`daemon in ${this.ns} not ready: ${this.daemon.stderr.slice(-2000)}${this.daemon.lines.slice(-5).map((l) => l.text).join("\n")}`);
    const readyMs = performance.now() - started;
    await this.quiet(1000, 30_000);
    this.base = await this.snap();
    const listing = JSON.parse(await ok(["ip", "netns", "exec", this.ns, "nft", "-j", "list", "table", "inet", "symroute"])) as { nftables: Record<string, unknown>[] };
    this.nftRules = listing.nftables.filter((o) => "rule" in o).length;
    return readyMs;
  }

  /** Resolves once neither the daemon nor the kernel has said anything for `ms`. */
  async quiet(ms: number, timeoutMs: number): Promise<boolean> {
    const r = await until(() => (performance.now() - Math.max(this.ip.last, this.nft.last, this.daemon.last) >= ms ? true : null), timeoutMs);
    return r === true;
  }

  async snap(): Promise<Snap> {
    const [r4, r6, routes, rest] = await Promise.all([
      ok(["ip", "-n", this.ns, "rule"]),
      ok(["ip", "-n", this.ns, "-6", "rule"]),
      // not "proto 97" as a filter: ip leaves the fields it filtered on out of its output, and the monitor prints them
      ok(["ip", "-n", this.ns, "route", "show", "table", "all"]),
      run(["ip", "netns", "exec", this.ns, "sh", "-c", `nft list table inet symroute; echo @@; for d in ${this.devs.join(" ")}; do echo "$d $(cat /proc/sys/net/ipv4/conf/$d/rp_filter)"; done`]),
    ]);
    const [nft, sysctl] = rest.out.split("@@\n");
    return { rules4: lines(r4).filter(owned), rules6: lines(r6).filter(owned), routes: lines(routes).filter(owned).sort(), nft: nft ?? "", sysctl: norm(sysctl ?? "") };
  }

  async status(): Promise<Status> {
    const body = await new Promise<string>((resolve, reject) => {
      const req = request({ socketPath: this.socket, path: "/v1/status", method: "GET", timeout: 60_000 }, (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve(text));
      });
      req.on("error", reject);
      req.on("timeout", () => req.destroy(new Error("status: timeout")));
      req.end();
    });
    const d = (JSON.parse(body) as { daemon: { reconciles: { ok: number; failed: number }; events: { seen: number; relevant: number } } }).daemon;
    return { reconciles: d.reconciles.ok + d.reconciles.failed, failed: d.reconciles.failed, seen: d.events.seen, relevant: d.events.relevant };
  }

  /** The daemon's reconcile log records from line `from` on. */
  reconciles(from: number): (Line & { json: Record<string, unknown> })[] {
    return this.daemon.lines.slice(from).filter((l): l is Line & { json: Record<string, unknown> } => ["repaired", "no drift", "reconcile failed"].includes(String(l.json?.msg)));
  }

  /**
   * When every owned rule and route named in `forced`, and every one the
   * kernel reported deleted after line `from`, has been added back (the last
   * such add); `gone` must stay deleted and `added` must appear. IPv4 routes
   * flushed by a link going down are not reported deleted, hence `forced`.
   */
  ownedRepairedAt(from: number, forced: string[], gone: string[] = [], added: RegExp[] = []): number | null {
    const del = new Map<string, { i: number; t: number }>();
    const add = new Map<string, { i: number; t: number }>();
    for (let i = from; i < this.ip.lines.length; i++) {
      const { t, text } = this.ip.lines[i];
      const isDel = text.startsWith("Deleted ");
      const key = isDel ? text.slice("Deleted ".length) : text;
      if (owned(key)) (isDel ? del : add).set(key, { i, t });
    }
    let at = -Infinity;
    for (const k of new Set([...forced, ...del.keys()])) {
      if (gone.includes(k)) continue;
      const a = add.get(k);
      const d = del.get(k);
      if (!a || (d && a.i < d.i)) return null;
      at = Math.max(at, a.t);
    }
    for (const k of gone) {
      const a = add.get(k);
      const d = del.get(k);
      if (!d || (a && a.i > d.i)) return null;
      at = Math.max(at, d.t);
    }
    for (const re of added) {
      const hit = [...add].find(([k, a]) => re.test(k) && !((del.get(k)?.i ?? -1) > a.i));
      if (!hit) return null;
      at = Math.max(at, hit[1].t);
    }
    return at === -Infinity ? null : at;
  }

  /** Injects one fault and measures its repair; leaves the bed settled. */
  async measure(fault: Fault): Promise<Sample> {
    const dFrom = this.daemon.lines.length;
    const t0 = performance.now();
    const r = await run(fault.argv, fault.input);
    if (!this.daemon.alive) throw new Error(`the daemon in ${this.ns} exited (${this.daemon.child.exitCode ?? this.daemon.child.signalCode}): ${this.daemon.stderr.slice(-2000)}`);
    // a fault that cannot be injected (what it removes is still missing from the fault before) is a finding, not the end
    if (r.code !== 0) return { kind: fault.kind, ms: null, daemonMs: null, reconciles: 0, repairs: 0, failed: 0, error: `fault command failed: ${r.err.trim().split("\n")[0]}` };
    const repaired = await until(fault.repairedAt, REPAIR_TIMEOUT_MS);
    if (repaired === null && !this.diagnosed) {
      // once per daemon: what it is doing when a repair does not come (its children, its last words)
      this.diagnosed = true;
      const ps = spawnSync("ps", ["-o", "pid,stat,etime,args", "--ppid", String(this.daemon.pid)], { encoding: "utf8" }).stdout;
      process.stderr.write(`${fault.kind} in ${this.ns} not repaired in ${REPAIR_TIMEOUT_MS} ms; the daemon's children:\n${ps}its last log lines:\n${this.daemon.lines.slice(-6).map((l) => l.text.slice(0, 400)).join("\n")}\n`);
    }
    // settled: the daemon's last reconcile found nothing to do (the follow-up its own writes cause) and all is quiet
    await until(() => {
      const recs = this.reconciles(dFrom);
      const last = recs[recs.length - 1];
      if (!last || last.t < (repaired ?? t0) || last.json.msg !== "no drift") return null;
      return performance.now() - Math.max(this.ip.last, this.nft.last, this.daemon.last) >= QUIET_MS ? true : null;
    }, REPAIR_TIMEOUT_MS);
    // the repair time again over every line: a later removal by the daemon would undo an early "repaired"
    const final = fault.repairedAt();
    const after = await this.snap();
    const error = diffSnap(fault.expect ?? this.base, after);
    const recs = this.reconciles(dFrom);
    const repairs = recs.filter((x) => x.json.msg === "repaired");
    const lastRepair = repairs[repairs.length - 1];
    return {
      kind: fault.kind,
      ms: final === null ? null : final - t0,
      daemonMs: lastRepair && typeof lastRepair.json.latencyMs === "number" ? lastRepair.json.latencyMs : null,
      reconciles: recs.length,
      repairs: repairs.length,
      failed: recs.filter((x) => x.json.msg === "reconcile failed").length,
      error,
    };
  }

  // ---------------------------------------------------------------- the six faults

  ruleFault(i: number): Fault {
    const all = [...this.base.rules4.map((l) => ({ l, fam: "-4" })), ...this.base.rules6.map((l) => ({ l, fam: "-6" }))];
    const { l, fam } = all[i % all.length];
    const pref = l.split(":")[0];
    const from = this.ip.lines.length;
    return { kind: "rule deleted", argv: ["ip", "-n", this.ns, fam, "rule", "del", "pref", pref], repairedAt: () => this.ownedRepairedAt(from, [l]) };
  }

  routeFault(i: number): Fault {
    const l = this.base.routes[i % this.base.routes.length];
    // "default via X dev D table T proto 97 ..." is deleted by what comes before "proto"
    const spec = l.split(" proto ")[0].split(" ");
    const from = this.ip.lines.length;
    return { kind: "route deleted", argv: ["ip", "-n", this.ns, l.includes(":") ? "-6" : "-4", "route", "del", ...spec], repairedAt: () => this.ownedRepairedAt(from, [l]) };
  }

  nftFault(): Fault {
    const rules = this.nftRules;
    const from = this.nft.lines.length;
    return {
      kind: "nft table flushed+deleted",
      argv: ["ip", "netns", "exec", this.ns, "nft", "flush table inet symroute; delete table inet symroute"],
      repairedAt: () => {
        // the daemon's transaction is atomic: its last "add rule" line means the whole table is back
        let deleted = false;
        let n = 0;
        for (let i = from; i < this.nft.lines.length; i++) {
          const { t, text } = this.nft.lines[i];
          if (!deleted) deleted = text === "delete table inet symroute";
          else if (text.startsWith("add rule inet symroute ") && ++n >= rules) return t;
        }
        return null;
      },
    };
  }

  sysctlFault(i: number): Fault {
    const dev = this.devs[i % this.devs.length];
    const words = ["off", "strict", "loose"];
    // base.sysctl is "up0 2 up1 2 ...": the value symroute set on each uplink
    const pairs = this.base.sysctl.split(" ");
    const set = Number(pairs[pairs.indexOf(dev) + 1]);
    const bad = [0, 1, 2].filter((v) => v !== set)[i % 2];
    const from = this.ip.lines.length;
    return {
      kind: "rp_filter changed",
      argv: ["ip", "netns", "exec", this.ns, "sysctl", "-q", "-w", `net.ipv4.conf.${dev}.rp_filter=${bad}`],
      repairedAt: () => {
        let seenBad = false;
        for (let k = from; k < this.ip.lines.length; k++) {
          const { t, text } = this.ip.lines[k];
          if (text === `inet ${dev} rp_filter ${words[bad]}`) seenBad = true;
          else if (seenBad && text === `inet ${dev} rp_filter ${words[set]}`) return t;
        }
        return null;
      },
    };
  }

  flapFault(i: number): Fault {
    const idx = i % this.devs.length;
    const dev = this.devs[idx];
    const cmds = [`link set ${dev} down`, `link set ${dev} up`];
    // admin down flushes IPv6 addresses; a network manager would put them back on up
    if (this.v6) cmds.push(`address add ${Bed.v6(idx, 2)}/64 dev ${dev} nodad`);
    const forced = this.base.routes.filter((l) => l.includes(` dev ${dev} `));
    const from = this.ip.lines.length;
    return { kind: "link flap", argv: ["ip", "-n", this.ns, "-batch", "-"], input: cmds.join("\n") + "\n", repairedAt: () => this.ownedRepairedAt(from, forced) };
  }

  addressFault(): Fault {
    const dev = this.devs[0];
    const old = this.addr4.get(dev)!;
    const next = old.endsWith(".2") ? old.replace(/\.2$/, ".3") : old.replace(/\.3$/, ".2");
    const oldRule = this.base.rules4.find((l) => l.includes(` from ${old} lookup `));
    if (!oldRule) throw new Error(`no rule from ${old} in ${this.base.rules4.join("; ")}`);
    const table = /lookup ([0-9]+)/.exec(oldRule)![1];
    const want = new RegExp(`^[0-9]+: from ${next.replace(/\./g, "\\.")} lookup ${table} proto ${SYMROUTE_PROTO}$`);
    const expect: Snap = { ...this.base, rules4: this.base.rules4.map((l) => (l === oldRule ? l.replace(` from ${old} `, ` from ${next} `) : l)) };
    this.addr4.set(dev, next);
    const from = this.ip.lines.length;
    return {
      kind: "uplink address moved",
      argv: ["ip", "-n", this.ns, "-batch", "-"],
      input: `address add ${next}/24 dev ${dev}\naddress del ${old}/24 dev ${dev}\n`,
      repairedAt: () => this.ownedRepairedAt(from, [], [oldRule], [want]),
      expect,
    };
  }

  async stop(): Promise<void> {
    if (!beds.delete(this)) return;
    await this.daemon?.stop();
    // BD_LOG=PREFIX keeps the daemon's log lines (with the bench's arrival time) for a closer look
    if (process.env.BD_LOG && this.daemon) writeFileSync(`${process.env.BD_LOG}-${this.ns}.jsonl`, this.daemon.lines.map((l) => `${l.t.toFixed(1)} ${l.text}`).join("\n") + "\n");
    await this.ip?.stop();
    await this.nft?.stop();
  }
}

// ---------------------------------------------------------------- idle CPU and memory

interface Ticks {
  /** utime+stime of the daemon, plus cutime+cstime of its reaped children (reconciles' ip, nft) */
  own: number;
  /** utime+stime of each live child (the monitors) by pid */
  live: Map<number, number>;
}

function statFields(pid: number): number[] {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  // fields after "(comm) ": the 3rd field of the file is index 0
  return s.slice(s.lastIndexOf(")") + 2).split(" ").map(Number);
}

function ticks(pid: number): Ticks {
  const f = statFields(pid);
  const live = new Map<number, number>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    for (const c of readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number)) {
      try {
        const cf = statFields(c);
        live.set(c, cf[11] + cf[12] + cf[13] + cf[14]);
      } catch {
        // a reconcile's child that just exited: its time lands in cutime
      }
    }
  }
  return { own: f[11] + f[12] + f[13] + f[14], live };
}

/** CPU ticks between two samples; only children alive at both count as live (the monitors). */
function tickDelta(a: Ticks, b: Ticks): { own: number; monitors: number } {
  let monitors = 0;
  for (const [pid, v] of b.live) if (a.live.has(pid)) monitors += v - a.live.get(pid)!;
  return { own: b.own - a.own, monitors };
}

function memKb(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+([0-9]+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

// ---------------------------------------------------------------- storms

interface StormRow {
  name: string;
  changes: number;
  /** lines the bench's own ip monitor read (what the kernel announced) */
  kernelLines: number;
  seen: number;
  relevant: number;
  reconciles: number;
  failed: number;
  injectMs: number;
  /** from the storm's start to the last poll at which events.seen grew (upper bound: polls every ~200 ms) */
  throughMs: number;
  cmdErrors: number;
  /** owned rules and routes the kernel reported deleted beyond the storm's own deletions: the daemon removed them */
  daemonDeleted: number;
  /** an owned rule deleted inside the storm: ms from the storm's start until it was back (null: not within 40 s) */
  watchedMs?: number | null;
  drift: string | null;
}

/** What a storm's injection did: its commands that failed, and how many owned objects it deleted itself. */
interface Injected {
  errors: number;
  ownedDels: number;
}

async function storm(bed: Bed, name: string, changes: number, inject: () => Promise<Injected>, opts: { watch?: string; pollDuring?: boolean } = {}): Promise<StormRow> {
  const { watch, pollDuring = true } = opts;
  await bed.quiet(500, 30_000);
  const s0 = await bed.status();
  const ipFrom = bed.ip.lines.length;
  const t0 = performance.now();
  const polls: (Status & { t: number })[] = [];
  let polling = true;
  let injectedDone = false;
  // GET /v1/status also reads the kernel, so it is polled no faster than every 200 ms; with !pollDuring only
  // once the storm is in, to tell what the polling (a busy daemon) does to the storm's events
  const poller = (async () => {
    while (!pollDuring && !injectedDone) await sleep(20);
    while (polling) {
      const s = await bed.status();
      polls.push({ ...s, t: performance.now() });
      await sleep(200);
    }
  })();
  const injected = await inject();
  injectedDone = true;
  const injectMs = performance.now() - t0;
  // through: events seen and reconciles have not moved for 6 polls after the storm was injected
  await until(() => {
    const tail = polls.slice(-6);
    if (tail.length < 6 || tail[0].t < t0 + injectMs) return null;
    return tail.every((p) => p.seen === tail[0].seen && p.reconciles === tail[0].reconciles) ? true : null;
  }, 120_000);
  polling = false;
  await poller;
  const end = polls[polls.length - 1];
  const firstFinal = polls.find((p) => p.seen === end.seen)!;
  // a deletion whose event the daemon's monitor lost waits for the periodic reconcile (every 30 s)
  const watched = watch === undefined ? undefined : await until(() => bed.ownedRepairedAt(ipFrom, [watch]), 40_000);
  await bed.quiet(500, 30_000);
  let after = await bed.snap();
  const drift = diffSnap(bed.base, after);
  // drift left behind: how long until the daemon puts it right (a failing reconcile's backoff, or the periodic one)
  const driftFrom = performance.now();
  while (drift && diffSnap(bed.base, after) && performance.now() - driftFrom < 70_000) {
    await sleep(250);
    after = await bed.snap();
  }
  const driftLeft = diffSnap(bed.base, after);
  return {
    name,
    changes,
    kernelLines: bed.ip.lines.length - ipFrom,
    seen: end.seen - s0.seen,
    relevant: end.relevant - s0.relevant,
    reconciles: end.reconciles - s0.reconciles,
    failed: end.failed - s0.failed,
    injectMs,
    throughMs: firstFinal.t - t0,
    cmdErrors: injected.errors,
    daemonDeleted: bed.ip.lines.slice(ipFrom).filter((l) => l.text.startsWith("Deleted ") && owned(l.text)).length - injected.ownedDels,
    watchedMs: watched === undefined ? undefined : watched === null ? null : watched - t0,
    drift: drift ? `${drift}; ${driftLeft ? "still there" : "gone"} ${fmt((performance.now() - driftFrom) / 1000, 1)} s after the storm settled` : null,
  };
}

/** Runs an `ip -batch` with -force (a line failing does not stop the rest); `owns` tells the lines about symroute's objects. */
async function batch(ns: string, cmds: string[], owns: (cmd: string) => boolean = () => false): Promise<Injected> {
  const r = await run(["ip", "-n", ns, "-force", "-batch", "-"], cmds.join("\n") + "\n");
  const failed = new Set([...r.err.matchAll(/^Command failed -:([0-9]+)/gm)].map((m) => Number(m[1]) - 1));
  return { errors: failed.size, ownedDels: cmds.filter((c, i) => owns(c) && / del /.test(` ${c} `) && !failed.has(i)).length };
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench/daemon.ts needs root (network namespaces)");
  if (!existsSync(join(repo, "dist", "symroute.mjs"))) throw new Error("build first: npm run -s build");
  removeStale();
  const began = performance.now();
  const out: string[] = [];

  // 1. repair latency: 2 uplinks (IPv4 and IPv6), a service pinned by source, one by mark
  const small = new Bed("s", 2, true);
  small.setup();
  await small.start(2);
  const samples: Sample[] = [];
  const kinds = ["rule deleted", "route deleted", "nft table flushed+deleted", "rp_filter changed", "link flap", "uplink address moved"];
  // round robin over the kinds, so a busy moment of the host spreads over all of them alike
  for (let i = 0; i < FAULTS; i++) {
    for (const kind of kinds) {
      const fault =
        kind === "rule deleted" ? small.ruleFault(i)
        : kind === "route deleted" ? small.routeFault(i)
        : kind === "nft table flushed+deleted" ? small.nftFault()
        : kind === "rp_filter changed" ? small.sysctlFault(i)
        : kind === "link flap" ? small.flapFault(i)
        : small.addressFault();
      const s = await small.measure(fault);
      samples.push(s);
      // the moved address is the new normal: later faults start from it
      if (kind === "uplink address moved") small.base = await small.snap();
      if (s.error || s.ms === null) process.stderr.write(`fault ${i} ${kind}: ${s.ms === null ? "not repaired in time" : ""} ${s.error ?? ""}\n`);
    }
  }
  const smallMs = performance.now() - began;
  await small.stop();

  // 2. and 3. at 64 uplinks and 1000 services
  const big = new Bed("b", 64, false);
  big.setup();
  const readyMs = await big.start(1000);
  const pid = big.daemon.pid;

  const idleS0 = await big.status();
  await big.quiet(1000, 30_000);
  const samplesCpu: { t: number; ticks: Ticks }[] = [{ t: performance.now(), ticks: ticks(pid) }];
  const dIdle = big.daemon.lines.length;
  // one sample a second: the periodic reconciles stand out, and the rest is the daemon at rest
  for (let s = 0; s < IDLE_S; s++) {
    await sleep(1000);
    samplesCpu.push({ t: performance.now(), ticks: ticks(pid) });
  }
  const rss = memKb(pid, "VmRSS");
  const hwm = memKb(pid, "VmHWM");
  const monitorsRss = [...samplesCpu[samplesCpu.length - 1].ticks.live.keys()].reduce((sum, c) => sum + (existsSync(`/proc/${c}`) ? memKb(c, "VmRSS") : 0), 0);
  const idleRecs = big.reconciles(dIdle);
  const idleS1 = await big.status();
  const first = samplesCpu[0];
  const lastS = samplesCpu[samplesCpu.length - 1];
  const idleSec = (lastS.t - first.t) / 1000;
  const total = tickDelta(first.ticks, lastS.ticks);
  const cpuPct = ((total.own + total.monitors) / CLK_TCK / idleSec) * 100;
  // seconds that overlap no reconcile: the cost of being idle without the periodic one
  const busy = idleRecs.map((r) => [r.t - Number(r.json.durationMs ?? 0) - 50, r.t + 50]);
  let quietTicks = 0;
  let quietSec = 0;
  for (let k = 1; k < samplesCpu.length; k++) {
    const a = samplesCpu[k - 1];
    const b = samplesCpu[k];
    if (busy.some(([s, e]) => s < b.t && e > a.t)) continue;
    const d = tickDelta(a.ticks, b.ticks);
    quietTicks += d.own + d.monitors;
    quietSec += (b.t - a.t) / 1000;
  }
  const quietPct = quietSec ? (quietTicks / CLK_TCK / quietSec) * 100 : NaN;
  const perReconcileMs = idleRecs.length ? (((total.own + total.monitors) / CLK_TCK - (quietPct / 100) * idleSec) * 1000) / idleRecs.length : NaN;
  const idleDur = idleRecs.map((r) => Number(r.json.durationMs ?? NaN));

  // repair latency at this size, for scale: owned rules deleted
  const bigSamples: Sample[] = [];
  for (let i = 0; i < BIG_FAULTS; i++) bigSamples.push(await big.measure(big.ruleFault(i * 31)));

  // storms
  const N = 5000;
  const route = (i: number) => `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}/32`;
  const storms: StormRow[] = [];
  const adds = (table: string) => Array.from({ length: N }, (_, i) => `route add ${route(i)} dev up${i % 64}${table}`);
  const dels = (table: string) => Array.from({ length: N }, (_, i) => `route del ${route(i)} dev up${i % 64}${table}`);
  storms.push(await storm(big, "foreign: 5000 routes added+deleted in table 77", 2 * N, () => batch(big.ns, [...adds(" table 77"), ...dels(" table 77")])));
  storms.push(await storm(big, "foreign: 5000 routes added+deleted in main (proto boot)", 2 * N, () => batch(big.ns, [...adds(""), ...dels("")])));
  // one owned rule deleted between the adds and the deletes: repaired at once only if its event reached the daemon
  const victim = big.base.rules4[big.base.rules4.length - 1];
  const victimDel = `rule del pref ${victim.slice(0, victim.indexOf(":"))}`;
  storms.push(
    await storm(big, "foreign, table 77, one owned rule deleted midway", 2 * N + 1, () => batch(big.ns, [...adds(" table 77"), victimDel, ...dels(" table 77")], (c) => c === victimDel), { watch: victim }),
  );
  storms.push(
    await storm(big, "the same, /v1/status not polled during the storm", 2 * N + 1, () => batch(big.ns, [...adds(" table 77"), victimDel, ...dels(" table 77")], (c) => c === victimDel), { watch: victim, pollDuring: false }),
  );
  // the daemon's loop busy for 1 s (SIGSTOP stands in for a long reconcile, a scrape or a GC pause): its monitor
  // blocks on the full pipe, the netlink socket overflows, and the kernel drops what follows
  storms.push(
    await storm(
      big,
      "the same, the daemon stopped for 1 s during the storm",
      2 * N + 1,
      async () => {
        process.kill(big.daemon.pid, "SIGSTOP");
        try {
          const done = await batch(big.ns, [...adds(" table 77"), victimDel, ...dels(" table 77")], (c) => c === victimDel);
          await sleep(1000);
          return done;
        } finally {
          process.kill(big.daemon.pid, "SIGCONT");
        }
      },
      { watch: victim, pollDuring: false },
    ),
  );
  // its own rules: deleted and put back exactly (pref, selector, table, proto 97), 500 of them
  const ownRules = big.base.rules4.slice(0, 500).map((l) => {
    const [pref, rest] = [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()];
    return { del: `rule del pref ${pref}`, add: `rule add pref ${pref} ${rest}` };
  });
  storms.push(await storm(big, "own: 500 rules deleted+re-added, one ip -batch", 1000, () => batch(big.ns, ownRules.flatMap((r) => [r.del, r.add]), () => true)));
  storms.push(
    await storm(big, "own: the same, one ip process per change", 1000, async () => {
      // a stream of events a few ms apart for seconds: the debounce never sees quiet, the max delay bounds the wait
      const done: Injected = { errors: 0, ownedDels: 0 };
      for (const r of ownRules) {
        for (const c of [r.del, r.add]) {
          const ok = (await run(["ip", "-n", big.ns, ...c.split(" ")])).code === 0;
          if (!ok) done.errors++;
          else if (c === r.del) done.ownedDels++;
        }
      }
      return done;
    }),
  );
  await big.stop();
  const totalS = (performance.now() - began) / 1000;

  // ---------------------------------------------------------------- report
  out.push(`symroute run benchmark (issue 10), one run, ${new Date().toISOString()}, ${FAULTS} faults of each kind, ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")} load`);
  out.push("");
  out.push(`1. repair latency, 2 uplinks (IPv4+IPv6) and 2 services; ms from just before the fault command to the repaired object on the bench's own ip/nft monitor`);
  out.push(`   ${"fault".padEnd(30)} ${"p50".padStart(6)} ${"p95".padStart(6)} ${"max".padStart(6)}   ${"daemon latencyMs p50/p95".padStart(24)}   ${"reconciles/fault".padStart(16)}  ${"not repaired".padStart(12)}  ${"kernel wrong after".padStart(18)}`);
  const row = (label: string, ss: Sample[]) => {
    const ms = ss.filter((s) => s.ms !== null).map((s) => s.ms!);
    const dm = ss.filter((s) => s.daemonMs !== null).map((s) => s.daemonMs!);
    const rec = ss.reduce((a, s) => a + s.reconciles, 0) / ss.length;
    const rep = ss.reduce((a, s) => a + s.repairs, 0) / ss.length;
    const failed = ss.reduce((a, s) => a + s.failed, 0);
    return `   ${label.padEnd(30)} ${fmt(pct(ms, 50)).padStart(6)} ${fmt(pct(ms, 95)).padStart(6)} ${fmt(Math.max(...ms)).padStart(6)}   ${`${fmt(pct(dm, 50))} / ${fmt(pct(dm, 95))}`.padStart(24)}   ${`${fmt(rec, 2)} (${fmt(rep, 2)} repairing${failed ? `, ${failed} failed` : ""})`.padStart(16)}  ${String(ss.filter((s) => s.ms === null).length).padStart(12)}  ${String(ss.filter((s) => s.error).length).padStart(18)}`;
  };
  kinds.forEach((k, i) => out.push(row(`(${"abcdef"[i]}) ${k}`, samples.filter((s) => s.kind === k))));
  out.push(row("all kinds", samples));
  out.push(row(`(a) at 64 uplinks/1000 svc, ${BIG_FAULTS}x`, bigSamples));
  const errs = [...samples, ...bigSamples].filter((s) => s.error);
  for (const e of errs.slice(0, 5)) out.push(`     kernel wrong after a ${e.kind}: ${e.error}`);
  out.push("");
  out.push(`2. idle, 64 uplinks and 1000 services (daemon ready ${fmt(readyMs)} ms after start), ${fmt(idleSec, 0)} s with ${idleRecs.length} reconciles (${idleRecs.map((r) => r.json.reason).join(", ")}; ${idleS1.reconciles - idleS0.reconciles} by /v1/status)`);
  out.push(`   CPU ${fmt(cpuPct, 2)}% of one core in all (daemon and reaped children ${fmt((total.own / CLK_TCK / idleSec) * 100, 2)}%, its ip/nft monitors ${fmt((total.monitors / CLK_TCK / idleSec) * 100, 2)}%)`);
  out.push(`   between reconciles ${fmt(quietPct, 2)}%; each periodic reconcile ~${fmt(perReconcileMs)} ms of CPU (durationMs ${idleDur.map((d) => fmt(d)).join(", ")})`);
  out.push(`   RSS daemon ${fmt(rss / 1024, 1)} MB (peak ${fmt(hwm / 1024, 1)} MB), its two monitors ${fmt(monitorsRss / 1024, 1)} MB`);
  out.push("");
  out.push(`3. storms at 64 uplinks/1000 services (counts from GET /v1/status, polled every ~200 ms)`);
  out.push(`   ${"storm".padEnd(56)} ${"changes".padStart(7)} ${"kernel lines".padStart(12)} ${"seen".padStart(6)} ${"relevant".padStart(8)} ${"reconciles".padStart(10)} ${"failed".padStart(6)} ${"inject ms".padStart(9)} ${"through ms".padStart(10)} ${"deleted by daemon".padStart(17)}  drift after`);
  for (const s of storms) {
    out.push(`   ${s.name.padEnd(56)} ${String(s.changes).padStart(7)} ${String(s.kernelLines).padStart(12)} ${String(s.seen).padStart(6)} ${String(s.relevant).padStart(8)} ${String(s.reconciles).padStart(10)} ${String(s.failed).padStart(6)} ${fmt(s.injectMs).padStart(9)} ${fmt(s.throughMs).padStart(10)} ${String(s.daemonDeleted).padStart(17)}  ${s.drift ?? "none"}${s.cmdErrors ? ` (${s.cmdErrors} of the storm's own commands failed: the rule was already back, or already gone)` : ""}`);
    if (s.watchedMs !== undefined) out.push(`     the owned rule deleted midway was back ${s.watchedMs === null ? "NOT within 40 s" : `${fmt(s.watchedMs)} ms after the storm began`} (the daemon saw ${s.seen} of the ${s.kernelLines} kernel lines)`);
  }
  out.push("");
  out.push(`total ${fmt(totalS)} s (repair faults ${fmt(smallMs / 1000)} s)`);
  console.log(out.join("\n"));
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    void cleanup().then(() => process.exit(130));
  });
}

main()
  .then(cleanup)
  .catch(async (e: unknown) => {
    await cleanup();
    console.error(e);
    process.exit(1);
  });
