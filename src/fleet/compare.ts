/**
 * Member records side by side (issue 20): which member differs from the
 * fleet, and in what. The reference for each question is what most members
 * say (ties go to the smallest value, so every reader picks the same); a
 * member that says otherwise is marked with the difference spelled out.
 */
import type { MemberRecord } from "./records.js";

/** One member's difference from the rest of the fleet. */
export interface Disagreement {
  member: string;
  /** "config revision" or "balancer NAME" */
  subject: string;
  detail: string;
}

/** The value most members hold (ties: the one first in sorted order), with how many hold it. */
function majority(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))[0][0];
}

/** Every disagreement among the members' records; empty when they all build the same tables. */
export function compareMembers(members: readonly MemberRecord[]): Disagreement[] {
  const out: Disagreement[] = [];
  if (members.length < 2) return out;
  const sorted = [...members].sort((a, b) => (a.member < b.member ? -1 : 1));

  const revisions = sorted.map((m) => String(m.appliedRevision));
  const refRevision = majority(revisions);
  sorted.forEach((m, i) => {
    if (revisions[i] !== refRevision) out.push({ member: m.member, subject: "config revision", detail: `runs ${revisions[i] === "null" ? "its local file" : `revision ${revisions[i]}`}; most run ${refRevision === "null" ? "their local file" : `revision ${refRevision}`}` });
  });

  const balancers = [...new Set(sorted.flatMap((m) => Object.keys(m.balancers)))].sort();
  for (const name of balancers) {
    const prints = sorted.map((m) => m.balancers[name]?.fingerprint ?? "absent");
    const ref = majority(prints);
    const refMember = sorted[prints.indexOf(ref)];
    const refInputs = refMember.balancers[name];
    sorted.forEach((m, i) => {
      if (prints[i] === ref) return;
      const mine = m.balancers[name];
      if (!mine || !refInputs) {
        out.push({ member: m.member, subject: `balancer ${name}`, detail: mine ? "has the balancer; most members do not" : "does not have the balancer; most members do" });
        return;
      }
      const parts: string[] = [];
      if (mine.size !== refInputs.size) parts.push(`size ${mine.size}, most have ${refInputs.size}`);
      const missing = Object.keys(refInputs.targets).filter((t) => !(t in mine.targets)).sort();
      const extra = Object.keys(mine.targets).filter((t) => !(t in refInputs.targets)).sort();
      if (missing.length) parts.push(`lacks ${missing.join(", ")}`);
      if (extra.length) parts.push(`has ${extra.join(", ")} that most do not`);
      for (const t of Object.keys(mine.targets).sort())
        if (t in refInputs.targets && mine.targets[t] !== refInputs.targets[t]) parts.push(`${t} is ${mine.targets[t]}, ${refInputs.targets[t]} on most`);
      out.push({ member: m.member, subject: `balancer ${name}`, detail: parts.length ? parts.join("; ") : "fingerprint differs" });
    });
  }
  return out;
}
