/**
 * A plan as people read it: one line per object, `+` added, `-` removed,
 * `~` changed, `!` conflicts with objects symroute does not own.
 */
import type { Plan } from "./plan.js";
import { ruleKey } from "../model/rule.js";
import { routeKey } from "../model/route.js";
import { isEmptyPlan } from "./plan.js";
import { extraKey } from "../model/extra.js";
import { holdsChanges } from "./conflicts.js";

/** Text of a plan. */
export function formatPlan(plan: Plan): string {
  const lines: string[] = [];
  const why = (w?: string) => (w ? `    # ${w}` : "");
  for (const [change, family] of [[plan.nft, "inet"], [plan.nftArp, "arp"], [plan.nftNetdev, "netdev"]] as const) {
    if (change.action === "none") continue;
    const sign = change.action === "delete" ? "-" : change.action === "create" ? "+" : "~";
    lines.push(`${sign} nft table ${family} symroute${change.reason ? ` (${change.reason})` : ""}`);
  }
  for (const e of plan.extras.add) lines.push(`+ ${extraKey(e)}${why(e.why)}`);
  for (const e of plan.extras.remove) lines.push(`- ${extraKey(e)}`);
  for (const r of plan.routes.add) lines.push(`+ route ${routeKey(r)}${why(r.why)}`);
  for (const c of plan.routes.change) lines.push(`~ route ${routeKey(c.from)}\n    => ${routeKey(c.to)}${why(c.to.why)}`);
  for (const r of plan.routes.remove) lines.push(`- route ${routeKey(r)}`);
  for (const r of plan.rules.add) lines.push(`+ rule ${ruleKey(r)}${why(r.why)}`);
  for (const r of plan.rules.remove) lines.push(`- rule ${ruleKey(r)}`);
  for (const s of plan.sysctls) lines.push(`~ sysctl ${s.key} ${s.from ?? "(absent)"} -> ${s.to}${why(s.why)}`);
  for (const c of plan.conflicts) lines.push(`! conflict: ${c}`);
  for (const r of plan.held.routes) lines.push(`! held: route ${routeKey(r)} (a foreign route is in its place)`);
  for (const r of plan.held.rules) lines.push(`! held: rule ${ruleKey(r)} (a foreign rule has its priority)`);
  if (isEmptyPlan(plan)) lines.unshift(holdsChanges(plan.held) ? "Nothing to change until the conflicts below are gone:" : "No changes: the kernel matches the config.");
  return lines.join("\n") + "\n";
}

/** Counts for a one-line summary. */
export function planSummary(plan: Plan): string {
  const add = plan.rules.add.length + plan.routes.add.length + plan.extras.add.length + (plan.nft.action === "create" ? 1 : 0) + (plan.nftArp.action === "create" ? 1 : 0) + (plan.nftNetdev.action === "create" ? 1 : 0);
  const change = plan.routes.change.length + plan.sysctls.length + (plan.nft.action === "replace" || plan.nft.action === "update" ? 1 : 0) + (plan.nftArp.action === "replace" ? 1 : 0) + (plan.nftNetdev.action === "replace" || plan.nftNetdev.action === "update" ? 1 : 0);
  const remove = plan.rules.remove.length + plan.routes.remove.length + plan.extras.remove.length + (plan.nft.action === "delete" ? 1 : 0) + (plan.nftArp.action === "delete" ? 1 : 0) + (plan.nftNetdev.action === "delete" ? 1 : 0);
  const held = plan.held.rules.length + plan.held.routes.length;
  return `${add} to add, ${change} to change, ${remove} to remove, ${plan.conflicts.length} conflicts${held ? ` (${held} held)` : ""}`;
}
