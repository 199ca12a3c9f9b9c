/** Helpers for kernel tests: root check, running the CLI, snapshots of kernel state. */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Lab } from "../../src/lab/lab.js";
import { TWO_UPLINKS } from "./config.js";

/** Kernel tests need root (namespaces, nft). */
export const isRoot = process.getuid?.() === 0;

const repo = join(import.meta.dirname, "..", "..");
export const stateDir = mkdtempSync(join(tmpdir(), "symroute-state-"));
process.env.SYMROUTE_STATE_DIR = stateDir;

/** Runs the built CLI as a user would; never throws. `symroute lab` (every scenario) gets more time than one command. */
export function cli(args: string[], env: Record<string, string> = {}, timeoutMs = args[0] === "lab" ? 150_000 : 60_000): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(repo, "bin", "symroute.js"), ...args], {
    encoding: "utf8",
    env: { ...process.env, SYMROUTE_STATE_DIR: stateDir, ...env },
    timeout: timeoutMs,
  });
  return { code: r.status ?? (r.signal ? 128 : 1), stdout: r.stdout, stderr: r.stderr };
}

/** Writes a config to a temporary file and returns its path. */
export function configFile(text: string, name = "symroute.yaml"): string {
  const dir = mkdtempSync(join(tmpdir(), "symroute-cfg-"));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/**
 * Everything in a host's kernel that symroute could touch, as text: rules,
 * routes of every table, the whole nft ruleset and the sysctls given.
 */
export async function kernelSnapshot(lab: Lab, host: string, sysctls: string[] = []): Promise<string> {
  const parts: string[] = [];
  for (const argv of [
    ["ip", "-4", "rule", "show"],
    ["ip", "-6", "rule", "show"],
    ["ip", "-4", "route", "show", "table", "all"],
    ["ip", "-6", "route", "show", "table", "all"],
    ["nft", "-s", "list", "ruleset"],
    ["ip", "-br", "link", "show"],
  ]) {
    const r = await lab.exec(host, argv);
    parts.push(`$ ${argv.join(" ")}\n${r.stdout}`);
  }
  for (const key of sysctls) {
    const r = await lab.exec(host, ["cat", `/proc/sys/${key}`]);
    parts.push(`${key}=${r.stdout.trim()}`);
  }
  return parts.join("\n");
}

/** The conntrack entries of a host as text. */
export async function conntrackList(lab: Lab, host: string, filter: string[] = []): Promise<string> {
  const r = await lab.exec(host, ["conntrack", "-L", ...filter], undefined, true);
  return r.stdout;
}

/** A host with two uplink interfaces (eth1, eth2) whose peers sit in another namespace. */
export async function buildTwoLinkHost(lab: Lab): Promise<void> {
  await lab.addHosts("h", "peer");
  await lab.link("h", "eth1", "peer", "p1");
  await lab.link("h", "eth2", "peer", "p2");
  await lab.addr("h", "eth1", "203.0.113.8/24", "2001:db8:1::8/64");
  await lab.addr("h", "eth2", "192.0.2.31/24", "2001:db8:2::31/64");
  await lab.addr("peer", "p1", "203.0.113.1/24", "2001:db8:1::1/64");
  await lab.addr("peer", "p2", "192.0.2.1/24", "2001:db8:2::1/64");
}

/** Two uplinks (the pure tests' config) and a service pinned by marks. */
export const TWO_UPLINKS_YAML = `${TWO_UPLINKS}services:
  - name: web
    addresses: [198.51.100.80, 2001:db8:80::1]
    uplink: isp2
    strategy: mark
`;

export const RP_KEYS = ["net/ipv4/conf/all/rp_filter", "net/ipv4/conf/eth1/rp_filter", "net/ipv4/conf/eth2/rp_filter", "net/ipv4/conf/default/rp_filter"];

/** A CLI run in the background: its child process (for signals) and its end. */
export interface CliRun {
  child: import("node:child_process").ChildProcess;
  done: Promise<{ code: number; signal: string | null; stdout: string; stderr: string }>;
  /** resolves when stderr has printed `text` */
  printed(text: string): Promise<void>;
  /** resolves when stdout or stderr has printed `text` (the daemon logs to stdout); rejects after `limitMs` */
  logged(text: string, limitMs?: number): Promise<void>;
  /** everything printed so far, stdout and stderr as they came */
  output(): string;
}

/** Starts the built CLI without waiting, so tests can run two at once or signal one. */
export function cliAsync(args: string[], env: Record<string, string> = {}): CliRun {
  const child = spawn(process.execPath, [join(repo, "bin", "symroute.js"), ...args], {
    env: { ...process.env, SYMROUTE_STATE_DIR: stateDir, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let both = "";
  const waiters: { text: string; within: () => string; resolve: () => void }[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) (w.within().includes(w.text) ? w.resolve() : waiters.push(w));
  };
  child.stdout!.on("data", (d: Buffer) => {
    stdout += d.toString();
    both += d.toString();
    wake();
  });
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
    both += d.toString();
    wake();
  });
  const done = new Promise<{ code: number; signal: string | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code: code ?? 128, signal, stdout, stderr })),
  );
  const waitFor = (text: string, within: () => string) => new Promise<void>((resolve) => (within().includes(text) ? resolve() : waiters.push({ text, within, resolve })));
  return {
    child,
    done,
    printed: (text) => waitFor(text, () => stderr),
    logged: (text, limitMs = 15_000) =>
      Promise.race([
        waitFor(text, () => both),
        new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`'${text}' not printed within ${limitMs} ms:\n${both.slice(-2000)}`)), limitMs).unref()),
      ]),
    output: () => both,
  };
}

/** Starts `symroute run ARGS` and waits until it says it is ready (its first apply held). */
export async function startDaemon(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const run = cliAsync(["run", ...args], env);
  await run.logged('"msg":"ready"');
  return run;
}

/** Stops a daemon started by the tests if it still runs (afterAll: SIGKILL, the test is over). */
export function killDaemon(run: CliRun | undefined): void {
  if (run && run.child.exitCode === null && run.child.signalCode === null) run.child.kill("SIGKILL");
}
