/**
 * Shutdown under load (issue 18): SIGTERM sent to `symroute run` at BS_N (200)
 * random moments while the daemon is busy, and what each stop costs: the time
 * from the signal to the process's exit, its exit code, and the children and
 * grandchildren it leaves behind.
 *
 * The daemon runs the built CLI (`node bin/symroute.js run FILE --netns NS`,
 * SYMROUTE_STATE_DIR a temporary directory) in the frontend of the
 * load-balancer lab (src/lab/loadBalancer.ts) with examples/load-balancer-dynamic.yaml
 * adapted as the kernel tests adapt it: `daemon: { metrics: "off" }`, flow
 * memory and registration on, the three targets' checks (TCP, HTTP, a ping
 * command), plus an uplink `ext` on ext-vlan0 whose ICMP check pings the gateway.
 * Each trial starts a daemon, waits for `"msg":"ready"`, starts the activity
 * and sends SIGTERM after a random 0-1500 ms. The activity, each on its own
 * random schedule from the moment of ready until the daemon has exited:
 *  - reconciles: an owned `ip rule` (proto 97) deleted from outside every
 *    0.2-0.8 s;
 *  - health transitions: target-a's server killed / started again (its TCP
 *    check), target-c's link down / up (its ping command check), ICMP to the
 *    uplink's gateway dropped / let through (the uplink's check); what is down
 *    at the end of a trial stays down into the next one, so daemons also start
 *    with targets or the uplink down;
 *  - reloads: the file rewritten (a flow's ports alternate) and SIGHUP (stopped
 *    when SIGTERM is sent: a SIGHUP after the daemon dropped its handler would
 *    kill it by the signal's default action, which says nothing of the stop);
 *  - registrations: `symroute lb target add stream-a target-d ... --check-tcp 4000`
 *    and `lb target remove` through the CLI, alternating;
 *  - drains: `symroute lb target drain stream-a target-b --timeout 1s` and `undrain`.
 * Just before the signal the daemon's descendants are read from /proc (by parent
 * pid, with their start times). After the exit and a 500 ms grace, a descendant
 * that still exists (same pid and start time) and is not a zombie is left
 * behind; so is any process still in the frontend's namespace (the bench's own
 * commands there have ended by then), which catches children started after the
 * snapshot. A daemon not gone 10 s after the signal is a hang: killed (SIGKILL).
 * The log (stdout and stderr) of a trial with a hang, an exit over 3 s, a
 * leftover or a non-zero exit is kept in /tmp/bs-shutdown-PID-TRIAL.log, the
 * slowest trial's in /tmp/bs-shutdown-PID-slowest.log.
 *
 * Needs root and a built CLI: `npm run -s build`, then, holding the kernel
 * tests' lock, `flock /tmp/symroute-kernel.lock npx tsx bench/shutdown.ts`
 * (BS_N=5 for a trial run; BS_SEED fixes the random moments; BS_DEBUG=1 prints
 * each action and each daemon's log from its "stopping" on). Namespaces are
 * named bs*, removed at the end, on failure and on SIGINT/SIGTERM.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab } from "../src/lab/lab.js";
import { buildLoadBalancer, LB, startTargetServer, targetHost } from "../src/lab/loadBalancer.js";
import { runProcess } from "../src/kernel/runner.js";
import type { BackgroundProcess } from "../src/kernel/background.js";
import { descendants, processes, readProc, type Proc } from "../test/helpers/processes.js";

const N = Number(process.env.BS_N ?? 200);
const SEED = Number(process.env.BS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const MAX_DELAY_MS = 1500;
const GRACE_MS = 500;
const SLOW_MS = 3000;
const HANG_MS = 10_000;
const READY_MS = 30_000;
/** a CLI call or command of the activity that takes longer is killed */
const CMD_LIMIT_MS = 10_000;
const SYMROUTE_PROTO = 97;

const repo = join(import.meta.dirname, "..");
const cliPath = join(repo, "bin", "symroute.js");
const work = mkdtempSync(join(tmpdir(), "symroute-bs-"));
const stateDir = join(work, "state");
const configPath = join(work, "shutdown.yaml");
const env: NodeJS.ProcessEnv = { ...process.env, SYMROUTE_STATE_DIR: stateDir };

/** mulberry32: the random moments and schedules of one run, repeatable with BS_SEED. */
let seed = SEED >>> 0;
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const between = (lo: number, hi: number) => lo + random() * (hi - lo);

// ---------------------------------------------------------------- the config

const example = readFileSync(join(repo, "examples", "load-balancer-dynamic.yaml"), "utf8");
/** The example with metrics off and an ICMP-checked uplink toward the lab's gateway; `variant` adds port 4003 to the tcp flow. */
function config(variant: boolean): string {
  const text = example
    .replace("daemon:\n  metrics: 127.0.0.1:9479\n", 'daemon:\n  metrics: "off"\nuplinks:\n  - name: ext\n    interface: ext-vlan0\n    gateway: 169.254.100.150\n    check: { targets: [169.254.100.150], hold: 0s }\n')
    .replace('destinationPorts: ["4000", "4002"]', variant ? 'destinationPorts: ["4000", "4002", "4003"]' : 'destinationPorts: ["4000", "4002"]');
  if (!text.includes("name: ext\n") || !text.includes('metrics: "off"')) throw new Error("examples/load-balancer-dynamic.yaml changed: adapt bench/shutdown.ts");
  return text;
}
let variant = false;
/** Rewrites the file in one step (rename), so a reload never reads half of it. */
function writeConfig(): void {
  writeFileSync(`${configPath}.tmp`, config(variant));
  renameSync(`${configPath}.tmp`, configPath);
}

// ---------------------------------------------------------------- processes

/** A snapshot process that still runs: same pid and start time, not a zombie. */
function stillThere(p: Proc): Proc | null {
  const now = readProc(p.pid);
  if (!now || now.start !== p.start || now.state === "Z" || now.state === "X") return null;
  return now;
}

/** Live processes in a namespace, asked from the host (`ip netns pids` inside it would count itself). */
async function inNamespace(ns: string): Promise<Proc[]> {
  const r = await runProcess(["ip", "netns", "pids", ns], { allowFailure: true });
  return r.stdout
    .split("\n")
    .map(Number)
    .filter((n) => n > 0)
    .map(readProc)
    .filter((p): p is Proc => p !== null && p.state !== "Z" && p.state !== "X");
}

/** Commands of the bench still running (activity, CLI calls): stopped on cleanup. */
const running = new Set<ChildProcess>();

/** Runs a command to its end (killed after CMD_LIMIT_MS); never throws. */
function run(argv: string[], input?: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(argv[0], argv.slice(1), { stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"], env });
    running.add(c);
    let out = "";
    let err = "";
    const limit = setTimeout(() => c.kill("SIGKILL"), CMD_LIMIT_MS);
    c.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    c.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    c.on("error", (e) => (err += e.message));
    c.on("close", (code, signal) => {
      clearTimeout(limit);
      running.delete(c);
      resolve({ code: code ?? (signal ? 128 : 1), out, err });
    });
    if (input !== undefined) c.stdin!.end(input);
  });
}

const symroute = (...args: string[]) => run([process.execPath, cliPath, ...args]);

// ---------------------------------------------------------------- the daemon

/** One `symroute run`: its output as it came, its exit. */
class Daemon {
  readonly child: ChildProcess;
  output = "";
  /** performance.now() of the exit, and its code or signal */
  exit: { t: number; code: number | null; signal: string | null } | null = null;
  /** performance.now() when stdout and stderr were both closed */
  closedAt: number | null = null;
  private readonly waiters = new Set<() => void>();

  constructor(readonly ns: string) {
    this.child = spawn(process.execPath, [cliPath, "run", configPath, "--netns", ns], { env, stdio: ["ignore", "pipe", "pipe"] });
    running.add(this.child);
    const take = (d: Buffer) => {
      this.output += d.toString();
      this.wake();
    };
    this.child.stdout!.on("data", take);
    this.child.stderr!.on("data", take);
    this.child.on("exit", (code, signal) => {
      this.exit = { t: performance.now(), code, signal };
      this.wake();
    });
    this.child.on("close", () => {
      this.closedAt = performance.now();
      running.delete(this.child);
      this.wake();
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves true when `check` holds (tried on every output and exit), false after `limitMs`. */
  until(check: () => boolean, limitMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (v: boolean) => {
        this.waiters.delete(poll);
        clearTimeout(timer);
        resolve(v);
      };
      const poll = () => {
        if (check()) done(true);
      };
      const timer = setTimeout(() => done(false), limitMs);
      this.waiters.add(poll);
      poll();
    });
  }

  /** Ends it whatever it does (cleanup, a hang). */
  async kill(): Promise<void> {
    if (this.exit === null) this.child.kill("SIGKILL");
    await this.until(() => this.closedAt !== null, 5000);
  }
}

// ---------------------------------------------------------------- the activity

type Kind = "rule deleted" | "target-a server killed" | "target-a server started" | "target-c link down" | "target-c link up" | "uplink ICMP dropped" | "uplink ICMP restored" | "reload (SIGHUP)" | "lb target add" | "lb target remove" | "lb target drain" | "lb target undrain";

/** The world the activity toggles; it carries over from one trial to the next. */
interface World {
  lab: Lab;
  ns: string;
  serverA: BackgroundProcess | null;
  linkCDown: boolean;
  icmpDropped: boolean;
  registered: boolean;
  drained: boolean;
}

/** Random actions on their own schedules until stopped; counts what was done before and after the signal. */
class Activity {
  private stopped = false;
  /** SIGHUPs end when SIGTERM is sent */
  hup = true;
  signalled = false;
  /** actions issued before the signal, and after it until the exit, by kind */
  readonly before = new Map<Kind, number>();
  readonly after = new Map<Kind, number>();
  /** actions that failed (a CLI call the stopping daemon refused or did not answer, a toggle that did not take), by kind */
  readonly failed = new Map<Kind, number>();
  private readonly sleepers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  private readonly loops: Promise<void>[] = [];
  private readonly t0 = performance.now();

  constructor(
    private readonly w: World,
    private readonly daemon: Daemon,
  ) {}

  private count(kind: Kind): void {
    if (process.env.BS_DEBUG) process.stderr.write(`${(performance.now() - this.t0).toFixed(0)} ms ${kind}${this.signalled ? " (after the signal)" : ""}\n`);
    const m = this.signalled ? this.after : this.before;
    m.set(kind, (m.get(kind) ?? 0) + 1);
  }

  private fail(kind: Kind, why: string): void {
    if (process.env.BS_DEBUG) process.stderr.write(`  ${kind} failed: ${why.trim().slice(0, 300)}\n`);
    this.failed.set(kind, (this.failed.get(kind) ?? 0) + 1);
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const s = {
        timer: setTimeout(() => {
          this.sleepers.delete(s);
          resolve();
        }, ms),
        wake: () => resolve(),
      };
      this.sleepers.add(s);
    });
  }

  private loop(firstMs: [number, number], gapMs: [number, number], step: () => Promise<void>, go: () => boolean = () => true): void {
    this.loops.push(
      (async () => {
        await this.sleep(between(...firstMs));
        // nothing new once the daemon has exited: what follows a stop is the next trial's
        while (!this.stopped && go() && this.daemon.exit === null) {
          await step();
          await this.sleep(between(...gapMs));
        }
      })(),
    );
  }

  /** Counts `kind` as issued, runs it, counts a failure; true when it worked. */
  private async act(kind: Kind, fn: () => Promise<{ code: number; err: string }>): Promise<boolean> {
    this.count(kind);
    const r = await fn();
    if (r.code !== 0) this.fail(kind, r.err);
    return r.code === 0;
  }

  start(): void {
    const { lab, ns } = this.w;
    // reconciles: an owned rule deleted from outside
    this.loop([0, 300], [200, 800], async () => {
      const rules = (await run(["ip", "-n", ns, "rule", "show"])).out.split("\n").filter((l) => new RegExp(`\\bproto ${SYMROUTE_PROTO}\\b`).test(l));
      if (!rules.length) return;
      const pref = rules[Math.floor(random() * rules.length)].split(":")[0];
      await this.act("rule deleted", () => run(["ip", "-n", ns, "rule", "del", "pref", pref]));
    });
    // health: target-a's server (TCP check 250 ms, down 3, up 2)
    this.loop([0, 300], [500, 1200], async () => {
      if (this.w.serverA) {
        this.count("target-a server killed");
        const pid = this.w.serverA.pid;
        if (pid) process.kill(pid, "SIGKILL");
        await this.w.serverA.stop();
        this.w.serverA = null;
      } else {
        this.count("target-a server started");
        this.w.serverA = startTargetServer(lab, LB.targets[0]);
      }
    });
    // health: target-c's own link (its check pings it every 500 ms, a ping waits up to 1 s)
    this.loop([0, 600], [600, 1500], async () => {
      const down = !this.w.linkCDown;
      if (await this.act(down ? "target-c link down" : "target-c link up", () => run(["ip", "-n", lab.ns(targetHost(LB.targets[2].name)), "link", "set", "eth0", down ? "down" : "up"]))) this.w.linkCDown = down;
    });
    // health: the uplink's ICMP check, its echo requests dropped by the gateway
    this.loop([0, 600], [600, 1500], async () => {
      const gw = lab.ns("gw");
      const drop = !this.w.icmpDropped;
      const ok = drop
        ? await this.act("uplink ICMP dropped", () => run(["ip", "netns", "exec", gw, "nft", "-f", "-"], "table inet bsdrop {\n chain in { type filter hook input priority 0; icmp type echo-request drop; }\n}\n"))
        : await this.act("uplink ICMP restored", () => run(["ip", "netns", "exec", gw, "nft", "delete", "table", "inet", "bsdrop"]));
      if (ok) this.w.icmpDropped = drop;
    });
    // reloads: the file changes, then SIGHUP
    this.loop(
      [0, 400],
      [300, 700],
      async () => {
        variant = !variant;
        writeConfig();
        if (this.hup && this.daemon.exit === null && this.daemon.child.kill("SIGHUP")) this.count("reload (SIGHUP)");
      },
      () => this.hup,
    );
    // registrations through the CLI
    this.loop([0, 300], [100, 400], async () => {
      const add = !this.w.registered;
      const ok = add
        ? await this.act("lb target add", () => symroute("lb", "target", "add", "stream-a", "target-d", "--via", LB.targets[3].v4, "--via6", LB.targets[3].v6, "--interface", "conduit-b", "--check-tcp", String(LB.tcpPort), "--netns", ns))
        : await this.act("lb target remove", () => symroute("lb", "target", "remove", "stream-a", "target-d", "--netns", ns));
      if (ok) this.w.registered = add;
    });
    // drains through the CLI
    this.loop([0, 500], [300, 900], async () => {
      const drain = !this.w.drained;
      const ok = drain
        ? await this.act("lb target drain", () => symroute("lb", "target", "drain", "stream-a", "target-b", "--timeout", "1s", "--netns", ns))
        : await this.act("lb target undrain", () => symroute("lb", "target", "undrain", "stream-a", "target-b", "--netns", ns));
      if (ok) this.w.drained = drain;
    });
  }

  /** Ends every loop and waits for the step each one is in. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.sleepers) {
      clearTimeout(s.timer);
      s.wake();
    }
    this.sleepers.clear();
    await Promise.all(this.loops);
  }
}

/** Learns after the fact whether a registration or drain is in force (a call cut off by the stop may have landed or not). */
function settleWorld(w: World): void {
  let file: { registrations?: { target?: { name?: string } }[]; drains?: { target?: string }[]; drained?: string[] } = {};
  try {
    file = JSON.parse(readFileSync(join(stateDir, `netns-${w.ns}.targets.json`), "utf8")) as typeof file;
  } catch {
    // no file: nothing registered or drained
  }
  w.registered = (file.registrations ?? []).some((r) => r.target?.name === "target-d");
  w.drained = (file.drains ?? []).some((d) => d.target === "target-b") || (file.drained ?? []).includes("stream-a/target-b");
}

// ---------------------------------------------------------------- trials

interface Trial {
  i: number;
  delayMs: number;
  readyMs: number;
  /** signal to exit; null: hang (killed after HANG_MS) */
  exitMs: number | null;
  /** signal to stdout/stderr closed */
  closeMs: number | null;
  code: number | null;
  signal: string | null;
  children: number;
  /** snapshot descendants alive after exit + grace */
  left: Proc[];
  /** processes in the frontend's namespace after exit + grace that were not in the snapshot */
  lateLeft: Proc[];
  /** what the daemon logged last before the signal (its msg) */
  doing: string;
  /** what it printed that is not a log line (an error on stderr) */
  printed: string[];
  log: string | null;
}

function lastMsgs(output: string, n: number): string[] {
  return output
    .split("\n")
    .filter(Boolean)
    .slice(-n);
}

const exitOf = (d: Daemon) => d.exit;

async function trial(w: World, i: number): Promise<Trial> {
  const d = new Daemon(w.ns);
  current = d;
  const t0 = performance.now();
  const ready = await d.until(() => d.output.includes('"msg":"ready"') || d.exit !== null, READY_MS);
  if (!ready || d.exit !== null) {
    await d.kill();
    const file = `/tmp/bs-shutdown-${process.pid}-${i}-notready.log`;
    writeFileSync(file, d.output);
    throw new Error(`trial ${i}: the daemon was ${d.exit ? `gone (exit ${d.exit.code ?? d.exit.signal})` : "not ready"} within ${READY_MS} ms; log in ${file}:\n${lastMsgs(d.output, 10).join("\n")}`);
  }
  const readyMs = performance.now() - t0;
  const activity = new Activity(w, d);
  activity.start();
  const delayMs = between(0, MAX_DELAY_MS);
  await new Promise((r) => setTimeout(r, delayMs));
  activity.hup = false;
  const snapshot = descendants(d.pid, processes({ zombies: true }));
  const doing = lastMsgs(d.output, 1)[0] ?? "";
  activity.signalled = true;
  const sentAt = performance.now();
  d.child.kill("SIGTERM");
  const exited = await d.until(() => d.exit !== null, HANG_MS);
  if (!exited) {
    const file = `/tmp/bs-shutdown-${process.pid}-${i}-hang.log`;
    const tree = descendants(d.pid, processes({ zombies: true }));
    writeFileSync(file, `${d.output}\n--- not exited ${HANG_MS} ms after SIGTERM; its descendants then:\n${tree.map((p) => `${p.pid} ${p.state} ${p.cmdline}`).join("\n")}\n`);
    await d.kill();
  }
  await d.until(() => d.closedAt !== null, 5000);
  await activity.stop();
  // read through a call: the checks before the signal narrowed d.exit to null
  const end = exitOf(d);
  const exitAt = end?.t ?? performance.now();
  const wait = exitAt + GRACE_MS - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const left = snapshot.map(stillThere).filter((p): p is Proc => p !== null);
  const known = new Set(snapshot.map((p) => p.pid));
  const lateLeft = (await inNamespace(w.ns)).filter((p) => !known.has(p.pid));
  const t: Trial = {
    i,
    delayMs,
    readyMs,
    exitMs: exited && end ? end.t - sentAt : null,
    closeMs: d.closedAt === null ? null : d.closedAt - sentAt,
    code: end?.code ?? null,
    signal: end?.signal ?? null,
    children: snapshot.length,
    left,
    lateLeft,
    doing,
    printed: d.output.split("\n").filter((l) => l.trim() && !l.startsWith("{")),
    log: null,
  };
  if (process.env.BS_DEBUG) process.stderr.write(`--- trial ${i}: exit ${t.exitMs?.toFixed(0)} ms; the log from the signal on:\n${d.output.slice(d.output.lastIndexOf("\n", d.output.indexOf('"msg":"stopping"')) + 1)}\n`);
  let stopping = false;
  for (const line of d.output.split("\n")) {
    let msg: string;
    try {
      msg = String((JSON.parse(line) as { msg?: unknown }).msg);
    } catch {
      continue;
    }
    if (msg === "stopping") stopping = true;
    const m = stopping ? msgsAfter : msgsBefore;
    m.set(msg, (m.get(msg) ?? 0) + 1);
  }
  if (t.exitMs !== null && t.exitMs > slowestRun.ms) slowestRun = { ms: t.exitMs, i, output: d.output };
  const bad = t.exitMs === null || t.exitMs > SLOW_MS || t.code !== 0 || left.length > 0 || lateLeft.length > 0;
  if (bad) {
    t.log = `/tmp/bs-shutdown-${process.pid}-${i}.log`;
    const lines = [
      d.output,
      `--- trial ${i}: SIGTERM ${delayMs.toFixed(0)} ms after ready; exit ${t.exitMs === null ? "NONE (hang, killed)" : `${t.exitMs.toFixed(0)} ms`}, code ${t.code} signal ${t.signal}`,
      `--- descendants just before the signal:`,
      ...snapshot.map((p) => `${p.pid} ppid ${p.ppid} ${p.state} ${p.cmdline}`),
      `--- left ${GRACE_MS} ms after the exit:`,
      ...left.map((p) => `${p.pid} ppid ${p.ppid} ${p.state} ${p.cmdline}`),
      `--- in ${w.ns}, not in the snapshot:`,
      ...lateLeft.map((p) => `${p.pid} ppid ${p.ppid} ${p.state} ${p.cmdline}`),
    ];
    writeFileSync(t.log, lines.join("\n") + "\n");
  }
  // what is left is the daemon's, and would only disturb the next trial
  for (const p of [...left, ...lateLeft]) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  settleWorld(w);
  for (const [k, n] of activity.before) mixBefore.set(k, (mixBefore.get(k) ?? 0) + n);
  for (const [k, n] of activity.after) mixAfter.set(k, (mixAfter.get(k) ?? 0) + n);
  for (const [k, n] of activity.failed) mixFailed.set(k, (mixFailed.get(k) ?? 0) + n);
  return t;
}

const mixBefore = new Map<Kind, number>();
const mixAfter = new Map<Kind, number>();
const mixFailed = new Map<Kind, number>();
/** the daemon's log lines by msg, before its "stopping" and from it on, over every trial */
const msgsBefore = new Map<string, number>();
const msgsAfter = new Map<string, number>();
/** the slowest exit's trial, its log kept at the end */
let slowestRun = { ms: -1, i: -1, output: "" };


// ---------------------------------------------------------------- cleanup

const lab = new Lab("sd", "bs");
let current: Daemon | null = null;
let cleaned = false;
async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  if (current) await current.kill();
  for (const c of running) c.kill("SIGKILL");
  await lab.teardown();
  rmSync(work, { recursive: true, force: true });
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    void cleanup().then(() => process.exit(130));
  });
}
// output piped into a reader that went away (`| head`) must not end the bench before its cleanup
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => undefined);

// ---------------------------------------------------------------- main

function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench/shutdown.ts needs root (network namespaces)");
  if (!existsSync(join(repo, "dist", "symroute.mjs"))) throw new Error("build first: npm run -s build");
  const began = performance.now();
  const servers = await buildLoadBalancer(lab);
  writeConfig();
  const w: World = { lab, ns: lab.ns("fe"), serverA: servers.get("target-a") ?? null, linkCDown: false, icmpDropped: false, registered: false, drained: false };
  const trials: Trial[] = [];
  for (let i = 0; i < N; i++) {
    const t = await trial(w, i);
    trials.push(t);
    if (t.log) process.stderr.write(`trial ${i}: exit ${t.exitMs === null ? "HANG" : `${t.exitMs.toFixed(0)} ms`} code ${t.code ?? t.signal}, ${t.left.length + t.lateLeft.length} left; log ${t.log}\n`);
    else if ((i + 1) % 20 === 0) process.stderr.write(`${i + 1}/${N} trials\n`);
  }

  const exits = trials.filter((t) => t.exitMs !== null).map((t) => t.exitMs!);
  // a hang counts as the slowest of all in the percentiles over every trial
  const all = trials.map((t) => t.exitMs ?? Infinity);
  const slowest = trials.filter((t) => t.exitMs !== null).reduce<Trial | null>((a, t) => (a === null || t.exitMs! > a.exitMs! ? t : a), null);
  const hangs = trials.filter((t) => t.exitMs === null);
  const over = trials.filter((t) => t.exitMs === null || t.exitMs > SLOW_MS);
  const nonZero = trials.filter((t) => t.code !== 0);
  const left = trials.reduce((n, t) => n + t.left.length, 0);
  const lateLeft = trials.reduce((n, t) => n + t.lateLeft.length, 0);
  const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(0)} ms` : "-");
  const row = (a: string, b: string, c = "") => console.log(`  ${a.padEnd(44)}${b.padEnd(16)}${c}`);

  console.log(`symroute run: SIGTERM at ${N} random moments (0-${MAX_DELAY_MS} ms after ready) under activity; one run, ${new Date().toISOString()}, seed ${SEED}, load ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
  console.log(`  lab: load-balancer topology (namespaces ${lab.prefix}-*), daemon in ${w.ns}; examples/load-balancer-dynamic.yaml, metrics off, flow memory + registration on,`);
  console.log(`  checks: target-a TCP, target-b HTTP, target-c ping command, uplink ext (ext-vlan0) ICMP to 169.254.100.150`);
  console.log("");
  row("measure", "value", "expected");
  row("trials", String(trials.length));
  const msOrHang = (n: number) => (n === Infinity ? "HANG" : ms(n));
  row("slowest exit", trials.some((t) => t.exitMs === null) ? "HANG" : ms(slowest?.exitMs ?? NaN), slowest ? `slowest of the ${exits.length} that exited: ${ms(slowest.exitMs!)} (trial ${slowest.i})` : "");
  row("exit time p50 / p95, every trial", `${msOrHang(pct(all, 50))} / ${msOrHang(pct(all, 95))}`, `(a hang counts as slower than any exit)`);
  row(`exit time p50 / p95, the ${exits.length} that exited`, `${ms(pct(exits, 50))} / ${ms(pct(exits, 95))}`);
  row(`exits over ${SLOW_MS / 1000} s (hangs among them)`, `${over.length} (${hangs.length})`, "0");
  row("non-zero exits", String(nonZero.length), `0${nonZero.length ? `  (${nonZero.map((t) => `#${t.i}: ${t.code ?? t.signal}${t.exitMs === null ? " (hang, the bench's kill)" : ""}`).join(", ")})` : ""}`);
  row("children left (of the snapshot)", String(left), "0");
  row("other processes left in the namespace", String(lateLeft), "0");
  row("descendants at the signal p50 / max", `${pct(trials.map((t) => t.children), 50)} / ${Math.max(...trials.map((t) => t.children))}`);
  row("ready after start p50 / max", `${ms(pct(trials.map((t) => t.readyMs), 50))} / ${ms(Math.max(...trials.map((t) => t.readyMs)))}`);
  row("exit to stdio closed, max", ms(Math.max(...trials.filter((t) => t.exitMs !== null && t.closeMs !== null).map((t) => t.closeMs! - t.exitMs!))));
  console.log("");
  console.log("  activity, all trials (issued)               before SIGTERM  after SIGTERM until the exit   failed (refused, no answer, already so)");
  const kinds: Kind[] = ["rule deleted", "target-a server killed", "target-a server started", "target-c link down", "target-c link up", "uplink ICMP dropped", "uplink ICMP restored", "reload (SIGHUP)", "lb target add", "lb target remove", "lb target drain", "lb target undrain"];
  for (const k of kinds) row(`  ${k}`, String(mixBefore.get(k) ?? 0), `${String(mixAfter.get(k) ?? 0).padEnd(31)}${mixFailed.get(k) ?? 0}`);
  const doing = new Map<string, number>();
  for (const t of trials) {
    let msg = t.doing;
    try {
      msg = String((JSON.parse(t.doing) as { msg?: unknown }).msg);
    } catch {
      // not a JSON line
    }
    doing.set(msg, (doing.get(msg) ?? 0) + 1);
  }
  console.log("");
  console.log("  the daemon's last log line before the signal (msg)   trials");
  for (const [m, n] of [...doing].sort((a, b) => b[1] - a[1])) row(`  ${m.slice(0, 60)}`, String(n));
  console.log("");
  console.log("  the daemon's log, all trials (msg)                 lines before \"stopping\"   from it on");
  for (const m of [...new Set([...msgsBefore.keys(), ...msgsAfter.keys()])].sort((a, b) => (msgsBefore.get(b) ?? 0) + (msgsAfter.get(b) ?? 0) - (msgsBefore.get(a) ?? 0) - (msgsAfter.get(a) ?? 0)))
    row(`  ${m.slice(0, 48)}`, String(msgsBefore.get(m) ?? 0), String(msgsAfter.get(m) ?? 0));
  if (slowestRun.i >= 0) {
    const file = `/tmp/bs-shutdown-${process.pid}-slowest.log`;
    writeFileSync(file, `${slowestRun.output}\n--- trial ${slowestRun.i}: the slowest exit, ${slowestRun.ms.toFixed(0)} ms after SIGTERM\n`);
    console.log(`\n  the slowest exit's log (trial ${slowestRun.i}): ${file}`);
  }
  const kept = trials.filter((t) => t.log);
  if (kept.length) {
    console.log("");
    console.log("  trials with a hang, a slow or non-zero exit, or a leftover (logs kept):");
    for (const t of kept) {
      console.log(`    #${t.i}: exit ${t.exitMs === null ? "HANG" : ms(t.exitMs)} code ${t.code ?? t.signal}, left ${[...t.left, ...t.lateLeft].map((p) => p.cmdline.slice(0, 60)).join("; ") || "none"}: ${t.log}`);
      if (t.printed.length) console.log(`      printed: ${t.printed.join(" | ").slice(0, 300)}`);
    }
  }
  console.log(`\n  total ${((performance.now() - began) / 1000).toFixed(0)} s`);
}

main()
  .then(cleanup)
  .catch(async (e: unknown) => {
    await cleanup();
    console.error(e);
    process.exit(1);
  });
