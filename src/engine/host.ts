/**
 * Compile against the host as it was before symroute: facts read from the
 * kernel, with the sysctl originals of the state put back in, and the Maglev
 * tables of the last apply for `assignment: stable`.
 */
import type { ResolvedConfig } from "../config/resolved.js";
import { compile, type Compiled } from "../compile/index.js";
import { hostAsBefore } from "../compile/rpFilter.js";
import type { HostFacts } from "../model/facts.js";
import type { StateFile } from "../kernel/state.js";
import { ConfigError, formatIssue } from "../config/errors.js";
import { NO_INPUTS, type Inputs } from "../compile/inputs.js";

/** The Maglev tables the last apply left, by balancer name. */
export function previousTables(state: StateFile): Record<string, string[]> {
  return Object.fromEntries((state.applied?.desired.balancers ?? []).map((b) => [b.name, b.table]));
}

/** What compile made of a config on this host, with every warning as text (the config's own first). */
export interface HostCompiled extends Compiled {
  /** the facts as read from the kernel (live values, for plan) */
  facts: HostFacts;
}

/** Compiles a config for a host whose facts and state are known. Throws AllocationError when the ranges are too small. */
export function compileForHost(resolved: ResolvedConfig, facts: HostFacts, state: StateFile, inputs: Inputs = NO_INPUTS): HostCompiled {
  const compiled = compile(resolved, hostAsBefore(facts, state.sysctlOriginals), previousTables(state), inputs);
  // the config is valid but not on this host (a fast path's MTUs): refused before anything is read or written
  if (compiled.refusals?.length)
    throw new ConfigError(resolved.place ? resolved.place(compiled.refusals) : compiled.refusals.map((r) => ({ file: resolved.file, line: 0, col: 0, ...r })));
  return { ...compiled, warnings: [...resolved.warnings.map(formatIssue), ...compiled.warnings], facts };
}
