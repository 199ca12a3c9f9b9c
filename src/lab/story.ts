/**
 * The parts every lab story shares: check connections, apply a config to one
 * host in-process, and destroy it again.
 */
import { readFileSync } from "node:fs";
import type { Lab } from "./lab.js";
import { tcpEcho } from "./traffic.js";
import { loadConfigText } from "../config/load.js";
import { formatIssue } from "../config/errors.js";
import { compile } from "../compile/index.js";
import { readFacts } from "../kernel/facts.js";
import { applyDesired, type ApplyOutcome } from "../apply/apply.js";
import { emptyDesired } from "../model/desired.js";
import { removeState } from "../kernel/state.js";
import { planSummary } from "../plan/format.js";

/** One connection to try: from a host to address:port. */
export interface Probe {
  label: string;
  from: string;
  to: string;
  port: number;
}

/** Where output goes (stdout for the CLI, nowhere in tests). */
export type Say = (line: string) => void;

/** Tries each probe; returns how many connected. */
export async function runProbes(lab: Lab, probes: Probe[], say: Say): Promise<boolean[]> {
  const results = await Promise.all(probes.map((p) => tcpEcho(lab, p.from, p.to, p.port)));
  probes.forEach((p, i) => say(`  ${results[i].ok ? "OK  " : "FAIL"}  ${p.label}`));
  return results.map((r) => r.ok);
}

/** Applies a config file to one host of the lab, as `symroute apply --netns` would. */
export async function applyFile(lab: Lab, host: string, file: string): Promise<ApplyOutcome> {
  const result = loadConfigText(readFileSync(file, "utf8"), file);
  if (!result.ok) throw new Error(result.issues.map(formatIssue).join("\n"));
  const runner = lab.runner(host);
  const compiled = compile(result.value, await readFacts(runner));
  const outcome = await applyDesired({ runner, desired: compiled.desired, priorities: result.value.priorities, file });
  if (outcome.rolledBack) throw new Error(`apply failed and was rolled back: ${outcome.rolledBack.error}`);
  return outcome;
}

/** Removes symroute's objects from a host, as `symroute destroy --netns` would. */
export async function destroyIn(lab: Lab, host: string): Promise<ApplyOutcome> {
  const outcome = await applyDesired({ runner: lab.runner(host), desired: emptyDesired(), priorities: { first: 1, last: 0 }, allowConflicts: true, destroying: true });
  removeState(lab.ns(host));
  return outcome;
}

/** One line about an apply. */
export function describeApply(outcome: ApplyOutcome): string {
  return outcome.changed ? planSummary(outcome.plan) : "no changes";
}
