/**
 * plan: what an apply of a config would change, read without the lock (it
 * writes nothing). Compiles against the host as it was before symroute, as
 * apply does, so an empty plan means a second apply writes nothing.
 */
import type { ResolvedConfig } from "../config/resolved.js";
import { planAgainstKernel } from "../apply/apply.js";
import type { Plan } from "../plan/plan.js";
import { ProcessRunner, type Runner } from "../kernel/runner.js";
import { readState } from "../kernel/state.js";
import { KERNEL_TOOLS, requireTools } from "../kernel/tools.js";
import { compileForHost, type HostCompiled } from "./host.js";
import { rpFilterKeys, startReads } from "./reads.js";
import type { Inputs } from "../compile/inputs.js";

/** What plan found. */
export interface PlanResult {
  plan: Plan;
  compiled: HostCompiled;
}

/** Plans a config against the kernel of a namespace (or the host). */
export async function planConfig(load: () => ResolvedConfig, options: { netns?: string; runner?: Runner; inputs?: Inputs } = {}): Promise<PlanResult> {
  if (!options.runner) requireTools(KERNEL_TOOLS);
  const runner = options.runner ?? new ProcessRunner(options.netns);
  const reads = startReads(runner);
  const resolved = load();
  const state = readState(options.netns);
  // the daemon's plan sees what its reconciles see: uplinks and targets down, targets draining
  const compiled = compileForHost(resolved, await reads.facts, state, options.inputs);
  const { plan } = await planAgainstKernel(runner, compiled.desired, resolved.priorities, state, reads.objects, false, rpFilterKeys(compiled.facts));
  return { plan, compiled };
}
