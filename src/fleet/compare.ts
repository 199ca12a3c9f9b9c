/**
 * Member records side by side (issue 20): which member differs from the
 * fleet, and in what. The reference for each question is what most members
 * say; a member that says otherwise is marked with the difference spelled
 * out. Without a majority (two members that differ, a 2-2 split) nobody is
 * right: every member is marked, each against a member of another opinion.
 */
import type { MemberRecord } from "./records.js";

/** One member's difference from the rest of the fleet. */
export interface Disagreement {
  member: string;
  /** "config revision" or "balancer NAME" */
  subject: string;
  detail: string;
}

/** The value more members hold than any other; null on a tie. */
function majority(values: string[]): string | null {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  const ranked = [...counts.values()].sort((a, b) => b - a);
  if (ranked.length > 1 && ranked[0] === ranked[1]) return null;
  return [...counts.entries()].find(([, n]) => n === ranked[0])![0];
}

/** Whom a member is compared with: the majority's first member, or (on a tie) the first member of another opinion. */
function referenceOf(values: string[], i: number, ref: string | null): { index: number; who: string } | null {
  if (ref !== null) return values[i] === ref ? null : { index: values.indexOf(ref), who: "most" };
  const index = values.findIndex((v) => v !== values[i]);
  return index < 0 ? null : { index, who: "" };
}

/** Every disagreement among the members' records; empty when they all build the same tables. */
export function compareMembers(members: readonly MemberRecord[]): Disagreement[] {
  const out: Disagreement[] = [];
  if (members.length < 2) return out;
  const sorted = [...members].sort((a, b) => (a.member < b.member ? -1 : 1));

  const revisions = sorted.map((m) => String(m.appliedRevision));
  const runs = (r: string) => (r === "null" ? "the local file" : `revision ${r}`);
  const refRevision = majority(revisions);
  sorted.forEach((m, i) => {
    const ref = referenceOf(revisions, i, refRevision);
    if (ref) out.push({ member: m.member, subject: "config revision", detail: `runs ${runs(revisions[i])}; ${ref.who || sorted[ref.index].member} ${ref.who ? "run" : "runs"} ${runs(revisions[ref.index])}` });
  });

  const balancers = [...new Set(sorted.flatMap((m) => Object.keys(m.balancers)))].sort();
  for (const name of balancers) {
    const prints = sorted.map((m) => m.balancers[name]?.fingerprint ?? "absent");
    const majorityPrint = majority(prints);
    sorted.forEach((m, i) => {
      const ref = referenceOf(prints, i, majorityPrint);
      if (!ref) return;
      const refInputs = sorted[ref.index].balancers[name];
      const most = ref.who ? "most members" : sorted[ref.index].member;
      const onMost = ref.who ? "most" : sorted[ref.index].member;
      const mine = m.balancers[name];
      if (!mine || !refInputs) {
        out.push({ member: m.member, subject: `balancer ${name}`, detail: mine ? `has the balancer; ${most} ${ref.who ? "do" : "does"} not` : `does not have the balancer; ${most} ${ref.who ? "do" : "does"}` });
        return;
      }
      const parts: string[] = [];
      if (mine.size !== refInputs.size) parts.push(`size ${mine.size}, ${refInputs.size} on ${onMost}`);
      const missing = Object.keys(refInputs.targets).filter((t) => !(t in mine.targets)).sort();
      const extra = Object.keys(mine.targets).filter((t) => !(t in refInputs.targets)).sort();
      if (missing.length) parts.push(`lacks ${missing.join(", ")}`);
      if (extra.length) parts.push(`has ${extra.join(", ")} that ${most} ${ref.who ? "do" : "does"} not`);
      for (const t of Object.keys(mine.targets).sort())
        if (t in refInputs.targets && mine.targets[t] !== refInputs.targets[t]) parts.push(`${t} is ${mine.targets[t]}, ${refInputs.targets[t]} on ${onMost}`);
      out.push({ member: m.member, subject: `balancer ${name}`, detail: parts.length ? parts.join("; ") : "fingerprint differs" });
    });
  }
  return out;
}
