/**
 * confirm and revert of `apply --confirm-timeout`. The pending change belongs
 * to the state: confirm clears it, a later apply or destroy confirms or cancels
 * it, and the revert timer (a detached `symroute _revert`) puts back exactly
 * the state from before its own apply, and only while that apply is still the
 * pending one.
 */
import { rollback } from "../apply/rollback.js";
import { stopRevertTimer } from "./reconcile.js";
import { withSession, type SessionOptions } from "./session.js";

const NO_RANGE = { first: 1, last: 0 };

/** Keeps the pending change; null when nothing waited. */
export async function confirm(options: SessionOptions): Promise<{ deadline: string } | null> {
  return withSession("confirm", options, async (session) => {
    const pending = session.state.pending;
    if (!pending) return null;
    stopRevertTimer(session.state);
    session.save({ ...session.state, pending: null });
    return { deadline: pending.deadline };
  });
}

/** What the revert timer did. */
export type RevertResult = { reverted: true; restored: boolean } | { reverted: false; why: string };

/** Reverts the pending change named by `token` once its deadline has passed. */
export async function revert(token: string, options: SessionOptions): Promise<RevertResult> {
  return withSession("revert", options, async (session) => {
    const pending = session.state.pending;
    if (!pending || pending.token !== token) return { reverted: false, why: "the change was confirmed or replaced" };
    if (Date.parse(pending.deadline) > Date.now()) return { reverted: false, why: "the deadline has not passed" };
    const restored = await rollback(session.runner, pending.snapshot, NO_RANGE, (pending.before?.applied ?? pending.snapshot.applied)?.desired);
    const before = pending.before;
    session.save({
      ...session.state,
      applied: before ? before.applied : ((pending.snapshot.applied as typeof session.state.applied) ?? null),
      ...(before ? { sysctlOriginals: before.sysctlOriginals, ownedExtras: before.ownedExtras } : {}),
      pending: null,
      journal: null,
    });
    return { reverted: true, restored };
  });
}
