/**
 * What the daemon says about conflicts: one log line when the foreign objects
 * in its way change (met, or gone), not one per reconcile while they stay.
 */
import type { Plan } from "../plan/plan.js";
import { ruleKey } from "../model/rule.js";
import { routeKey } from "../model/route.js";

/** The changes a plan holds back, as the snapshot lists them. */
export function heldKeys(plan: Plan): string[] {
  return [...plan.held.rules.map((r) => `rule ${ruleKey(r)}`), ...plan.held.routes.map((r) => `route ${routeKey(r)}`)];
}

/** A log line when the conflicts differ from the ones last reported, else null. */
export function conflictNews(last: { conflicts: string[]; held: string[] }, plan: Plan): { level: "warn" | "info"; fields: Record<string, unknown> } | null {
  const held = heldKeys(plan);
  if (JSON.stringify(last.conflicts) === JSON.stringify(plan.conflicts) && JSON.stringify(last.held) === JSON.stringify(held)) return null;
  if (plan.conflicts.length === 0) return { level: "info", fields: { msg: "conflicts gone", was: last.conflicts } };
  return { level: "warn", fields: { msg: "conflicts: foreign objects left alone; everything else applied", conflicts: plan.conflicts, held } };
}
