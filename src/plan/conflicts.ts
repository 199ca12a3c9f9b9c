/**
 * Foreign objects in symroute's way, and the changes they hold back. A
 * conflict blocks only what it stands on: a rule symroute would add at a
 * priority a foreign rule holds (the order of two rules of one priority is the
 * kernel's insertion order, which symroute does not control, and an identical
 * rule would be refused), and a route symroute would add where a foreign route
 * sits (adding fails, replacing would overwrite it). Every other change of a
 * plan stays applicable, so a foreign rule cannot stop a repair elsewhere.
 */
import type { RoutingRule } from "../model/rule.js";
import { ruleKey } from "../model/rule.js";
import type { Route } from "../model/route.js";
import { routeKey, routeSlot } from "../model/route.js";
import type { IdRange } from "../config/resolved.js";

const KERNEL_TABLES = [253, 254, 255];

/** Changes a plan leaves out because a foreign object stands where they would go. */
export interface Held {
  rules: RoutingRule[];
  routes: Route[];
}

/** What conflicts a desired state meets: messages for people, and the changes held back. */
export interface ConflictReport {
  conflicts: string[];
  held: Held;
}

/** The conflicts between desired rules and routes and the foreign ones live; `adds` are the changes that would be made. */
export function findConflicts(
  desired: { rules: RoutingRule[]; routes: Route[] },
  foreignRules: RoutingRule[],
  foreignRoutes: Route[],
  adds: { rules: RoutingRule[]; routes: Route[] },
  priorities: IdRange,
): ConflictReport {
  const conflicts: string[] = [];
  const foreignPriorities = new Map<string, RoutingRule>();
  for (const f of foreignRules) {
    if (f.priority < priorities.first || f.priority > priorities.last) continue;
    conflicts.push(`foreign rule in symroute's priority range: ${ruleKey(f)}`);
    foreignPriorities.set(`${f.family}/${f.priority}`, f);
  }
  const usedTables = new Set(desired.routes.map((r) => r.table).filter((t) => t !== 254));
  for (const r of desired.rules) usedTables.add(r.table);
  const desiredSlots = new Set(desired.routes.map(routeSlot));
  const foreignSlots = new Map<string, Route>();
  for (const f of foreignRoutes) {
    if (desiredSlots.has(routeSlot(f))) foreignSlots.set(routeSlot(f), f);
    if (usedTables.has(f.table) && !KERNEL_TABLES.includes(f.table)) conflicts.push(`foreign route in table ${f.table} that symroute uses: ${routeKey(f)}`);
    else if (desiredSlots.has(routeSlot(f))) conflicts.push(`foreign route in the place of one symroute adds: ${routeKey(f)}`);
  }
  const held: Held = {
    rules: adds.rules.filter((r) => foreignPriorities.has(`${r.family}/${r.priority}`)),
    routes: adds.routes.filter((r) => foreignSlots.has(routeSlot(r))),
  };
  return { conflicts, held };
}

/** True when some change waits for a foreign object to go. */
export function holdsChanges(held: Held | undefined): boolean {
  return !!held && held.rules.length + held.routes.length > 0;
}
