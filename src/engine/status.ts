/**
 * status: what symroute owns in the kernel now, and how it drifted from the
 * last apply. Reads only; an unusable state file is reported, not thrown, so
 * status still counts what the kernel's tags say symroute owns.
 */
import { planAgainstKernel } from "../apply/apply.js";
import { isEmptyPlan, type Plan } from "../plan/plan.js";
import { formatPlan } from "../plan/format.js";
import { readLive } from "../kernel/live.js";
import { ProcessRunner, type Runner } from "../kernel/runner.js";
import { readStateTolerant } from "../kernel/state.js";
import { KERNEL_TOOLS, requireTools } from "../kernel/tools.js";
import { SYMROUTE_PROTO } from "../model/ownership.js";

const NO_RANGE = { first: 1, last: 0 };

/** The status report (its JSON form is documented in README). */
export interface StatusReport {
  applied: { file: string | null; at: string } | null;
  owned: { rules: number; routes: number; nftTable: boolean };
  sysctlOriginals: Record<string, string>;
  pendingConfirm: string | null;
  interruptedApply: string | null;
  /** the plan that would put the last apply back, as lines; empty when none */
  drift: string[];
  /** the state file could not be used (corrupt, newer version): why */
  stateError: string | null;
}

/** Reads the kernel and the state and reports; `driftPlan` is the plan itself, for callers that act on it. */
export async function status(options: { netns?: string; runner?: Runner } = {}): Promise<StatusReport & { driftPlan: Plan | null }> {
  if (!options.runner) requireTools(KERNEL_TOOLS);
  const runner = options.runner ?? new ProcessRunner(options.netns);
  const { state, problem } = readStateTolerant(options.netns);
  const stateError = problem?.message ?? null;
  // one kernel read: the drift plan's own read also gives the counts (the daemon asks on every scrape)
  const drift = state.applied ? await planAgainstKernel(runner, state.applied.desired, state.applied.priorities ?? NO_RANGE, state) : null;
  const live = drift?.live ?? (await readLive(runner, Object.keys(state.sysctlOriginals), undefined, true, false));
  const driftPlan: Plan | null = drift?.plan ?? null;
  return {
    applied: state.applied ? { file: state.applied.file ?? null, at: state.applied.at } : null,
    owned: {
      rules: live.rules.filter((r) => r.protocol === SYMROUTE_PROTO).length,
      routes: live.routes.filter((r) => r.protocol === SYMROUTE_PROTO).length,
      nftTable: live.nft !== null,
    },
    sysctlOriginals: state.sysctlOriginals,
    pendingConfirm: state.pending ? state.pending.deadline : null,
    interruptedApply: state.journal ? state.journal.startedAt : null,
    drift: driftPlan && !isEmptyPlan(driftPlan) ? formatPlan(driftPlan).trim().split("\n") : [],
    stateError,
    driftPlan,
  };
}
