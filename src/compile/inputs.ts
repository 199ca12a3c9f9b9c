/**
 * Everything besides the file that decides the desired state (issue 18,
 * item 1), as one immutable value: uplinks and targets their checks say are
 * down, drains under way and finished, targets registered at run time (later
 * also what a fleet's store says). Its owners (health, the registry, the
 * API) replace it; compile and the engine take `(config, facts, inputs)` and
 * nothing else reaches them.
 */
import type { ResolvedConfig } from "../config/resolved.js";
import type { LoadBalancer } from "../config/schema.js";

type Target = LoadBalancer["targets"][number];

/** A target registered at run time, for its balancer. */
export interface RegisteredTarget {
  readonly balancer: string;
  readonly target: Target;
}

/** Compile's inputs beside the config. Keys of targets are "BALANCER/TARGET". */
export interface Inputs {
  /** uplinks whose checks say down: left out of outbound sharing */
  readonly uplinksDown: ReadonlySet<string>;
  /** targets whose checks fail: out of the Maglev table and of the flow memory */
  readonly targetsDown: ReadonlySet<string>;
  /** targets draining: out of the table, still served their remembered flows */
  readonly targetsDraining: ReadonlySet<string>;
  /** the file's targets whose drain finished: out until undrained, as if down */
  readonly targetsDrained: ReadonlySet<string>;
  /** targets registered at run time, appended to their balancers (the file's own names win) */
  readonly registered: readonly RegisteredTarget[];
}

/** Nothing down, draining or registered: what one-shot commands compile with. */
export const NO_INPUTS: Inputs = Object.freeze({
  uplinksDown: new Set<string>(),
  targetsDown: new Set<string>(),
  targetsDraining: new Set<string>(),
  targetsDrained: new Set<string>(),
  registered: [],
});

/** Inputs with some fields given, the rest empty. */
export function inputsOf(parts: Partial<Inputs>): Inputs {
  return Object.freeze({ ...NO_INPUTS, ...parts });
}

/** The targets out of the table as if down: failing checks and finished drains. */
export function targetsOut(inputs: Inputs): ReadonlySet<string> {
  if (inputs.targetsDrained.size === 0) return inputs.targetsDown;
  return new Set([...inputs.targetsDown, ...inputs.targetsDrained]);
}

/**
 * The config with the registered targets appended to their balancers: only
 * balancers that take registrations, and never a name the file already has
 * (the file is what an operator reviewed).
 */
export function withRegistered(resolved: ResolvedConfig, inputs: Inputs): ResolvedConfig {
  if (inputs.registered.length === 0) return resolved;
  const loadBalancers = resolved.config.loadBalancers.map((lb) => {
    if (!lb.registration) return lb;
    const own = new Set(lb.targets.map((t) => t.name));
    const extra = inputs.registered.filter((r) => r.balancer === lb.name && !own.has(r.target.name)).map((r) => r.target);
    return extra.length ? { ...lb, targets: [...lb.targets, ...extra] } : lb;
  });
  return { ...resolved, config: { ...resolved.config, loadBalancers } };
}
