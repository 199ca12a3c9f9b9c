/**
 * A balancer's Maglev inputs as one hash (issue 20): the table is a function
 * of the serving target names and the size, so two members whose fingerprints
 * agree build the same table. The states of targets out of the table are part
 * of it too: a target draining on one member and down on another is a
 * disagreement an operator wants to see, even before it changes the table.
 */
import { createHash } from "node:crypto";
import type { LoadBalancer } from "../config/schema.js";
import { targetKey } from "../compile/allocate.js";
import { defaultSize } from "../maglev/table.js";
import type { BalancerInputs } from "./records.js";

/** A target's place in a member's table. */
export type TargetState = BalancerInputs["targets"][string];

/** The out-of-table sets as compile's inputs name them ("BALANCER/TARGET"). */
export interface TargetSets {
  targetsDown: ReadonlySet<string>;
  targetsDraining: ReadonlySet<string>;
  targetsDrained: ReadonlySet<string>;
}

/** The fingerprint of a size and target states: sha256 of their canonical JSON (names sorted). */
export function fingerprintOf(size: number, targets: Readonly<Record<string, TargetState>>): string {
  const names = Object.keys(targets).sort();
  const canonical = JSON.stringify({ size, targets: names.map((n) => [n, targets[n]]) });
  return createHash("sha256").update(canonical).digest("hex");
}

/**
 * A merged balancer's Maglev inputs (its targets, file and registered) as a
 * member record carries them. The size is the file's, or the default compile
 * chooses (kept in step with compile/loadBalancers.ts).
 */
export function balancerInputs(lb: LoadBalancer, sets: TargetSets): BalancerInputs {
  const targets: Record<string, TargetState> = {};
  for (const t of lb.targets) {
    const k = targetKey(lb.name, t.name);
    targets[t.name] = sets.targetsDraining.has(k) ? "draining" : sets.targetsDrained.has(k) ? "drained" : sets.targetsDown.has(k) ? "down" : "serving";
  }
  // compile's rule (compile/loadBalancers.ts): sized for 64 when the balancer takes registrations
  const size = lb.maglev.size ?? defaultSize(Math.max(1, lb.targets.length, lb.registration ? 64 : 0));
  return { size, targets, fingerprint: fingerprintOf(size, targets) };
}
