/**
 * The balancers as the API shows them: the kernel's view of each (entries,
 * counters) with what only the daemon knows of each target: its check's
 * health, whether it was registered at run time, whether its drain finished.
 */
import { targetKey } from "../compile/allocate.js";
import type { BalancerView } from "../engine/index.js";
import type { TargetHealthView } from "./targetHealth.js";

/** Each target of the balancers with its health (null without a check), source and finished drain. */
export function withTargetStates(balancers: BalancerView[], health: TargetHealthView[], registered: ReadonlySet<string>, drained: ReadonlySet<string>) {
  const byKey = new Map(health.map((h) => [h.key, h]));
  return balancers.map((b) => ({
    ...b,
    targets: b.targets.map((t) => {
      const k = targetKey(b.name, t.name);
      return { ...t, ...(drained.has(k) ? { state: "drained" as const } : {}), ...(registered.has(k) ? { source: "registered" as const } : {}), health: byKey.get(k) ?? null };
    }),
  }));
}
