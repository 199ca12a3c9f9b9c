/**
 * A writer's session on one state: the tools checked, the state's lock held,
 * the state read under it. Every command that changes the kernel or the state
 * (apply, destroy, confirm, the revert timer, the daemon's reconciles) runs
 * inside one, so two writers never interleave between the kernel read and the
 * state write.
 */
import { ProcessRunner, type Runner } from "../kernel/runner.js";
import { acquireLock, type HeldLock, type LockHolder } from "../kernel/lock.js";
import { readState, statePath, writeState, type StateFile } from "../kernel/state.js";
import { KERNEL_TOOLS, requireTools } from "../kernel/tools.js";

/** How a command waits for the lock, and how it can be interrupted. */
export interface SessionOptions {
  netns?: string;
  /** how long to wait for another writer (default 30 s) */
  waitMs?: number;
  /** told once when another writer holds the lock */
  onWait?: (holder: LockHolder | null) => void;
  /** SIGTERM/SIGINT: stops a wait for the lock, rolls back an apply under way */
  abort?: AbortSignal;
  /** a runner to use instead of real processes (tests) */
  runner?: Runner;
}

/** The default wait for another writer: long enough for a large apply, short enough to notice a stuck one. */
export const DEFAULT_WAIT_MS = 30_000;

/** An open session: the runner, the lock, the state as read under the lock, and a writer for it. */
export interface Session {
  readonly runner: Runner;
  readonly netns?: string;
  readonly lock: HeldLock;
  state: StateFile;
  save(state: StateFile): void;
}

/** Checks the tools, takes the lock and reads the state; `body` runs with all three, and the lock is released after. */
export async function withSession<T>(command: string, options: SessionOptions, body: (session: Session) => Promise<T>, readStateFile: (netns?: string) => StateFile = readState): Promise<T> {
  if (!options.runner) requireTools([...KERNEL_TOOLS, "flock"]);
  const lock = await acquireLock(statePath(options.netns), { waitMs: options.waitMs ?? DEFAULT_WAIT_MS, command, onWait: options.onWait, abort: options.abort });
  try {
    const session: Session = {
      runner: options.runner ?? new ProcessRunner(options.netns),
      netns: options.netns,
      lock,
      state: readStateFile(options.netns),
      save(state) {
        writeState(state, options.netns);
        session.state = state;
      },
    };
    return await body(session);
  } finally {
    await lock.release();
  }
}
