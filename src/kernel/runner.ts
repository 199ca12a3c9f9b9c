/**
 * The one door to the outside: run a program with arguments as an array and
 * optional stdin, inside a network namespace or not. Never a shell. Tests swap
 * in a RecordingRunner to see exactly what would be sent.
 */
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ErrorKind } from "../model/errorKind.js";
import { errnoOf, isRaceErrno, type Errno } from "./netlinkErrors.js";

/** What a finished command left behind. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  stdin?: string;
  /** resolve instead of throwing on a non-zero exit */
  allowFailure?: boolean;
  /** kill the command after this long (default 120 s): one hung child must not stall a daemon for good */
  timeoutMs?: number;
}

/** Runs commands for one network namespace (or the host's). */
export interface Runner {
  readonly netns?: string;
  run(argv: string[], options?: RunOptions): Promise<RunResult>;
}

/** A command that failed, with what it printed and the errno it names: a race (EEXIST, ENOENT, ESRCH) is retryable. */
export class CommandError extends Error {
  readonly errno: Errno | null;
  readonly kind: ErrorKind;
  constructor(
    readonly argv: string[],
    readonly result: RunResult,
  ) {
    super(`${argv.join(" ")} exited ${result.code}: ${(result.stderr || result.stdout).trim()}`);
    this.name = "CommandError";
    this.errno = errnoOf(result.stderr);
    this.kind = isRaceErrno(this.errno) ? "retryable" : "fatal";
  }
}

/** Spawns real processes; `ip netns exec` wraps them when a namespace is set. */
export class ProcessRunner implements Runner {
  constructor(readonly netns?: string) {}

  run(argv: string[], options: RunOptions = {}): Promise<RunResult> {
    return runProcess(this.netns ? inNamespace(this.netns, argv) : argv, options);
  }
}

/**
 * Wraps a command to run in a namespace. `ip` gets `-n NS`, which only switches
 * the network namespace; everything else needs `ip netns exec`, which also
 * remounts /sys and costs a few milliseconds more per process.
 */
export function inNamespace(netns: string, argv: string[]): string[] {
  if (argv[0] === "ip" && argv[1] !== "netns") return ["ip", "-n", netns, ...argv.slice(1)];
  return ["ip", "netns", "exec", netns, ...argv];
}

/**
 * Spawns one process with no shell and collects its output. Stdin is handed
 * over as a regular file, not a pipe: node's pipes are sockets, and nft cannot
 * open /dev/stdin on a socket.
 */
export function runProcess(argv: string[], options: RunOptions = {}): Promise<RunResult> {
  let stdinFd: number | "ignore" = "ignore";
  let tmp: string | null = null;
  if (options.stdin !== undefined) {
    tmp = mkdtempSync(join(tmpdir(), "symroute-"));
    const file = join(tmp, "stdin");
    writeFileSync(file, options.stdin, { mode: 0o600 });
    stdinFd = openSync(file, "r");
  }
  const cleanup = () => {
    if (typeof stdinFd === "number") closeSync(stdinFd);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  };
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    // detached: a Ctrl-C sent to the terminal's process group must not kill an ip batch halfway; apply rolls back itself
    const child = spawn(argv[0], argv.slice(1), { stdio: [stdinFd, "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" }, detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (d: Buffer) => out.push(d));
    child.stderr!.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => {
      cleanup();
      reject(new Error(`cannot run ${argv[0]}: ${e.message}`));
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    timer.unref();
    child.on("close", (code) => {
      clearTimeout(timer);
      cleanup();
      if (process.env.SYMROUTE_TRACE === "1")
        process.stderr.write(`trace: ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(1)} ms ${argv.join(" ")}\n`);
      const result = { code: code ?? 1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if (result.code !== 0 && !options.allowFailure) reject(new CommandError(argv, result));
      else resolve(result);
    });
  });
}

/** One recorded call. */
export interface Recorded {
  argv: string[];
  stdin?: string;
}

/**
 * Records every command and answers from a handler, for tests of what apply
 * sends. The handler may throw a CommandError to inject a failure.
 */
export class RecordingRunner implements Runner {
  readonly calls: Recorded[] = [];
  constructor(
    private readonly handler: (argv: string[], stdin?: string) => RunResult | Promise<RunResult>,
    readonly netns?: string,
  ) {}

  async run(argv: string[], options: RunOptions = {}): Promise<RunResult> {
    this.calls.push({ argv, ...(options.stdin !== undefined ? { stdin: options.stdin } : {}) });
    const result = await this.handler(argv, options.stdin);
    if (result.code !== 0 && !options.allowFailure) throw new CommandError(argv, result);
    return result;
  }
}
