/**
 * One writer per state: an flock(2) on `<state>.lock`, held by a small
 * `flock ... cat` child whose stdin is a pipe from this process (one byte is
 * written at once; cat echoes it when it runs, that is once the lock is held:
 * flock's own messages are buffered until it exits). The kernel
 * releases the lock when the holder dies: if this process is killed, the pipe
 * closes, `cat` sees end of file and exits, and the lock goes with it. (Node
 * has no flock of its own; a lock file with a pid in it would outlive a crash.)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, constants, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { ensureStateDir } from "./state.js";

/** Who holds a lock, as the holder wrote it. */
export interface LockHolder {
  pid: number;
  command: string;
  since: string;
}

/** A held lock; release() lets the next writer in. */
export interface HeldLock {
  readonly path: string;
  /** how long acquiring took, in milliseconds */
  readonly waitedMs: number;
  release(): Promise<void>;
}

/** Another command held the lock for longer than we would wait. */
export class LockTimeoutError extends Error {
  /** another writer held the lock: the next try may get it */
  readonly kind = "retryable" as const;
  constructor(
    readonly path: string,
    readonly holder: LockHolder | null,
    waitMs: number,
  ) {
    super(
      `another symroute command holds ${path}` +
        (holder ? ` (pid ${holder.pid}, '${holder.command}' since ${holder.since})` : "") +
        `; gave up after ${(waitMs / 1000).toFixed(1)} s (--wait)`,
    );
    this.name = "LockTimeoutError";
  }
}

/** Reads what the current holder wrote into the lock file, if anything. */
export function lockHolder(path: string): LockHolder | null {
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<LockHolder>;
    return typeof parsed.pid === "number" ? { pid: parsed.pid, command: String(parsed.command ?? "?"), since: String(parsed.since ?? "?") } : null;
  } catch {
    return null;
  }
}

export interface LockOptions {
  /** how long to wait for another holder, in milliseconds */
  waitMs: number;
  /** what this process is doing, written for whoever waits */
  command: string;
  /** called once when the lock is not free at once, with its holder */
  onWait?: (holder: LockHolder | null) => void;
  /** gives up waiting (SIGTERM while queued behind another writer) */
  abort?: AbortSignal;
}

/** Takes the lock of a state file, waiting up to `waitMs`. */
export async function acquireLock(statePath: string, options: LockOptions): Promise<HeldLock> {
  ensureStateDir();
  const path = `${statePath}.lock`;
  // O_NOFOLLOW: a planted symlink makes this fail instead of creating a file elsewhere
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  const started = Date.now();
  const seconds = (options.waitMs / 1000).toFixed(3);
  const child = spawn("flock", ["--exclusive", ...(options.waitMs > 0 ? ["--timeout", seconds] : ["--nonblock"]), path, "cat"], {
    stdio: ["pipe", "pipe", "pipe"],
    detached: true, // a Ctrl-C to the terminal's process group must not drop the lock in the middle of a rollback
  });
  child.stdin!.on("error", () => undefined);
  let waitedTimer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  if (options.onWait) waitedTimer = setTimeout(() => options.onWait?.(lockHolder(path)), 150);
  try {
    await new Promise<void>((resolve, reject) => {
      let err = "";
      let held = false;
      child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
      child.stdout!.once("data", () => {
        held = true;
        resolve();
      });
      child.stdin!.write("\n");
      onAbort = () => {
        child.kill("SIGTERM");
        reject(new Error(`interrupted by ${String(options.abort?.reason)} while waiting for ${path}`));
      };
      if (options.abort?.aborted) onAbort();
      else options.abort?.addEventListener("abort", onAbort, { once: true });
      child.on("error", (e) => reject(new Error(`cannot run flock: ${e.message} (install util-linux)`)));
      child.on("exit", (code) => {
        if (held) return;
        if (code === 1) reject(new LockTimeoutError(path, lockHolder(path), options.waitMs));
        else reject(new Error(`flock ${path} exited ${code}: ${err.trim()}`));
      });
    });
  } catch (e) {
    closeSync(fd);
    throw e;
  } finally {
    clearTimeout(waitedTimer);
    if (onAbort) options.abort?.removeEventListener("abort", onAbort);
  }
  const holder: LockHolder = { pid: process.pid, command: options.command, since: new Date().toISOString() };
  ftruncateSync(fd, 0);
  writeSync(fd, JSON.stringify(holder), 0);
  return heldLock(path, fd, child, Date.now() - started);
}

function heldLock(path: string, fd: number, child: ChildProcess, waitedMs: number): HeldLock {
  let released: Promise<void> | null = null;
  return {
    path,
    waitedMs,
    release() {
      released ??= new Promise<void>((resolve) => {
        try {
          ftruncateSync(fd, 0);
        } catch {
          // the holder note is a courtesy; the flock is what counts
        }
        closeSync(fd);
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.stdin!.end();
      });
      return released;
    },
  };
}
