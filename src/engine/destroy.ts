/**
 * destroy: remove everything symroute owns and put the sysctls back. Works
 * from the kernel's own tags (proto 97 rules and routes, symroute's nft
 * tables) even when the state file is corrupt or from another version; then
 * it says which originals it could not restore, and moves the file aside.
 */
import { applyDesired, type ApplyOutcome } from "../apply/apply.js";
import { emptyDesired } from "../model/desired.js";
import { moveStateAside, readStateTolerant, removeState, type StateFileError, type StateFile } from "../kernel/state.js";
import { stopRevertTimer } from "./reconcile.js";
import { withSession, type SessionOptions } from "./session.js";

const NO_RANGE = { first: 1, last: 0 };

/** What destroy did. */
export interface DestroyResult {
  outcome: ApplyOutcome;
  /** the state file could not be used: its problem, and where it was moved */
  unusableState: { reason: string; movedTo: string | null } | null;
  /** a pending `--confirm-timeout` change cancelled by this destroy */
  cancelledPending: boolean;
  lockWaitedMs: number;
}

/** Removes symroute's objects; the state goes when the kernel is clean. */
export async function destroy(options: SessionOptions): Promise<DestroyResult> {
  let problem: StateFileError | null = null;
  const tolerant = (netns?: string): StateFile => {
    const read = readStateTolerant(netns);
    problem = read.problem;
    return read.state;
  };
  return withSession(
    "destroy",
    options,
    async (session) => {
      const cancelledPending = session.state.pending !== null;
      stopRevertTimer(session.state);
      // an unusable file is not overwritten by the journal: it stays for the user to look at
      const save = problem ? (s: StateFile) => void (session.state = s) : (s: StateFile) => session.save(s);
      const outcome = await applyDesired({
        runner: session.runner,
        desired: emptyDesired(),
        priorities: NO_RANGE,
        allowConflicts: true,
        destroying: true,
        state: { ...session.state, pending: null },
        save,
        abort: options.abort,
      });
      let unusableState: DestroyResult["unusableState"] = null;
      const found = problem as StateFileError | null;
      if (found) unusableState = { reason: found.reason, movedTo: outcome.rolledBack ? null : moveStateAside(options.netns) };
      else if (!outcome.rolledBack) removeState(options.netns);
      return { outcome, unusableState, cancelledPending, lockWaitedMs: session.lock.waitedMs };
    },
    tolerant,
  );
}
