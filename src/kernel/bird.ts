/**
 * BIRD 2 as symroute drives it: the file written atomically (a temp file and a
 * rename, mode 0644, never through a symlink), `birdc -s SOCKET configure`,
 * the sessions and exported routes read back, and a BIRD of symroute's own
 * started in a namespace. Arguments are arrays, never a shell.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { runProcess } from "./runner.js";
import { stateDir } from "./state.js";

/** Where symroute's own BIRD keeps its file, socket and pid file for a namespace (or the host). */
export function birdPaths(netns: string | undefined, config?: string, socket?: string): { config: string; socket: string; pidFile: string } {
  const base = join(stateDir(), netns ? `bird-netns-${netns}` : "bird");
  return { config: config ?? `${base}.conf`, socket: socket ?? `${base}.ctl`, pidFile: `${base}.pid` };
}

/** Whether BIRD 2 is installed (bird and birdc on the PATH). */
export async function birdInstalled(): Promise<boolean> {
  const r = await runProcess(["bird", "--version"], { allowFailure: true, timeoutMs: 5000 }).catch(() => null);
  return !!r && /BIRD version 2\./.test(r.stdout + r.stderr);
}

/** Writes the file through a temp file and a rename, so BIRD never reads half of it; false when the text was already there. */
export function writeBirdFile(path: string, text: string, last: { text: string | null }): boolean {
  if (last.text === text && existsSync(path)) return false;
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  if (existsSync(path) && lstatSync(path).isSymbolicLink()) throw new Error(`${path} is a symlink: symroute does not write through one`);
  const tmp = `${path}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, text, { mode: 0o644, flag: "wx" });
  renameSync(tmp, path);
  last.text = text;
  return true;
}

/** birdc against a control socket; the output and whether BIRD answered. */
export async function birdc(socket: string, args: string[], timeoutMs = 5000): Promise<{ ok: boolean; out: string }> {
  const r = await runProcess(["birdc", "-s", socket, ...args], { allowFailure: true, timeoutMs }).catch((e: unknown) => ({ code: 1, stdout: "", stderr: (e as Error).message }));
  return { ok: r.code === 0 && !/Unable to connect|Connection refused|No such file/.test(r.stdout + r.stderr), out: r.stdout + r.stderr };
}

/** `birdc configure`: BIRD re-reads the file; sessions whose settings did not change stay up. Throws with BIRD's message when it refuses. */
export async function birdConfigure(socket: string): Promise<void> {
  const r = await birdc(socket, ["configure"]);
  if (!r.ok || !/Reconfigured|Reconfiguration in progress|Reconfiguration already in progress/.test(r.out)) throw new Error(`birdc configure: ${r.out.trim() || "no answer"}`);
}

/** One line of `show protocols`. */
export interface BirdProtocol {
  name: string;
  proto: string;
  state: string;
  info: string;
}

/** `show protocols`, parsed. */
export function parseProtocols(out: string): BirdProtocol[] {
  const rows: BirdProtocol[] = [];
  for (const line of out.split("\n")) {
    const m = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+\S+\s*(.*)$/.exec(line.trim());
    if (!m || m[1] === "Name" || /^BIRD/.test(m[1])) continue;
    rows.push({ name: m[1], proto: m[2], state: m[4], info: m[5].trim() });
  }
  return rows;
}

/** The speaker's protocols, or null when it does not answer. */
export async function birdProtocols(socket: string): Promise<BirdProtocol[] | null> {
  const r = await birdc(socket, ["show", "protocols"]);
  return r.ok ? parseProtocols(r.out) : null;
}

/** Prefixes exported to a protocol now (`show route export P`), e.g. ["20.0.0.1/32"]; null when BIRD does not answer. */
export async function birdExported(socket: string, protocol: string): Promise<string[] | null> {
  const r = await birdc(socket, ["show", "route", "export", protocol]);
  if (!r.ok) return null;
  return [...r.out.matchAll(/^([0-9a-fA-F.:]+\/\d+)\s/gm)].map((m) => m[1]);
}

/** Routes a speaker holds for a prefix, as `show route for` prints them (for labs and tests). */
export async function birdRoutes(socket: string, prefix: string): Promise<string> {
  return (await birdc(socket, ["show", "route", "for", prefix, "all"])).out;
}

/** A BIRD of symroute's own. */
export interface BirdProcess {
  readonly pid: number | undefined;
  /** what it printed last (its log goes to stderr) */
  output(): string;
  exited(): boolean;
  /** SIGTERM (BIRD closes its sessions with a Cease: the neighbours withdraw at once), SIGKILL after 2 s */
  stop(): Promise<void>;
}

/**
 * Starts `bird -f -c FILE -s SOCKET -P PIDFILE` in the namespace, tied to this
 * process (setpriv --pdeathsig KILL): a daemon that dies takes its speaker
 * with it, and BFD at the router withdraws the VIPs. Resolves once BIRD
 * answers on its socket.
 */
export async function startBird(netns: string | undefined, paths: { config: string; socket: string; pidFile: string }, limitMs = 5000): Promise<BirdProcess> {
  rmSync(paths.socket, { force: true });
  const argv = ["setpriv", "--pdeathsig", "KILL", "bird", "-f", "-c", paths.config, "-s", paths.socket, "-P", paths.pidFile];
  // nsenter execs in place (`ip netns exec` forks and waits, which would make `ip` BIRD's parent, not this process)
  const full = netns ? ["nsenter", `--net=/run/netns/${netns}`, "--", ...argv] : argv;
  const child: ChildProcess = spawn(full[0], full.slice(1), { stdio: ["ignore", "ignore", "pipe"], detached: true });
  let out = "";
  child.stderr!.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-8000)));
  child.on("error", (e) => (out += `\n${e.message}`));
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const proc: BirdProcess = {
    pid: child.pid,
    output: () => out,
    exited,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited()) return resolve();
        const t = setTimeout(() => child.kill("SIGKILL"), 2000);
        child.once("exit", () => {
          clearTimeout(t);
          rmSync(paths.socket, { force: true });
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    if (exited()) throw new Error(`bird exited at start: ${out.trim()}`);
    if (existsSync(paths.socket) && (await birdc(paths.socket, ["show", "status"], 1000)).ok) return proc;
    await new Promise((r) => setTimeout(r, 20));
  }
  await proc.stop();
  throw new Error(`bird did not answer on ${paths.socket} within ${limitMs} ms: ${out.trim()}`);
}
