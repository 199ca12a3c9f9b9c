/**
 * reconcile: compile a config against the host as it was before symroute,
 * plan, apply, verify, all under the state's lock. A later apply confirms a
 * change still waiting for `symroute confirm` (as a later `commit` does after
 * JunOS's `commit confirmed`): the operator who can run it is still connected.
 */
import { randomUUID } from "node:crypto";
import type { ResolvedConfig } from "../config/resolved.js";
import { applyDesired, type ApplyOutcome } from "../apply/apply.js";
import type { ExecuteHooks } from "../apply/execute.js";
import { spawnSelfDetached, stopDetached } from "../kernel/detach.js";
import type { StateFile } from "../kernel/state.js";
import { compileForHost } from "./host.js";
import { rpFilterKeys, startReads } from "./reads.js";
import { withSession, type SessionOptions } from "./session.js";
import type { Inputs } from "../compile/inputs.js";

/** What an apply is asked to do. */
export interface ReconcileRequest extends SessionOptions {
  /** reads and checks the config; called after the kernel reads have started, so both run together */
  load: () => ResolvedConfig;
  allowConflicts?: boolean;
  /** revert unless confirmed within this many milliseconds */
  confirmTimeoutMs?: number;
  hooks?: ExecuteHooks;
  /** what besides the file decides the desired state: uplinks and targets down, drains, registered targets */
  inputs?: Inputs;
}

/** What an apply did, as data. */
export interface ReconcileResult {
  outcome: ApplyOutcome;
  warnings: string[];
  /** a pending `--confirm-timeout` change that this apply confirmed */
  confirmedPending: { deadline: string } | null;
  /** this apply's own confirmation deadline */
  confirmBy: string | null;
  lockWaitedMs: number;
}

/** Makes the kernel match a config, or leaves it as it was. */
export async function reconcile(req: ReconcileRequest): Promise<ReconcileResult> {
  return withSession("apply", req, async (session) => {
    const { runner } = session;
    const reads = startReads(runner);
    const resolved = req.load();
    const compiled = compileForHost(resolved, await reads.facts, session.state, req.inputs);
    const before = session.state;
    const outcome = await applyDesired({
      runner,
      desired: compiled.desired,
      priorities: resolved.priorities,
      file: resolved.file,
      allowConflicts: req.allowConflicts,
      hooks: req.hooks,
      prefetched: reads.objects,
      knownSysctls: rpFilterKeys(compiled.facts),
      state: session.state,
      save: (s) => session.save(s),
      abort: req.abort,
    });
    let confirmedPending: ReconcileResult["confirmedPending"] = null;
    let confirmBy: string | null = null;
    if (!outcome.rolledBack) {
      let state = session.state;
      if (state.pending) {
        confirmedPending = { deadline: state.pending.deadline };
        stopRevertTimer(state);
        state = { ...state, pending: null };
      }
      if (req.confirmTimeoutMs !== undefined && outcome.changed && outcome.snapshot) {
        const token = randomUUID();
        confirmBy = new Date(Date.now() + req.confirmTimeoutMs).toISOString();
        const pid = spawnSelfDetached(["_revert", "--token", token, ...(req.netns ? ["--netns", req.netns] : [])]);
        state = {
          ...state,
          pending: {
            token,
            deadline: confirmBy,
            snapshot: { ...outcome.snapshot, applied: before.applied },
            before: { applied: before.applied, sysctlOriginals: before.sysctlOriginals, ownedExtras: before.ownedExtras ?? [] },
            ...(pid ? { pid } : {}),
          },
        };
      }
      if (state !== session.state) session.save(state);
    }
    return { outcome: { ...outcome, state: session.state }, warnings: compiled.warnings, confirmedPending, confirmBy, lockWaitedMs: session.lock.waitedMs };
  });
}

/** Ends the watcher of a pending revert, if it is still the one that state names. */
export function stopRevertTimer(state: StateFile): void {
  if (state.pending?.pid) stopDetached(state.pending.pid, state.pending.token);
}
