/**
 * The parts every lab story shares: check connections, apply a config to one
 * host in-process, and destroy it again.
 */
import { readFileSync } from "node:fs";
import type { Lab } from "./lab.js";
import { tcpEcho } from "./traffic.js";
import { loadConfigText } from "../config/load.js";
import { formatIssue } from "../config/errors.js";
import type { ApplyOutcome } from "../engine/index.js";
import { destroy, reconcile } from "../engine/index.js";
import { planSummary } from "../plan/format.js";
import type { ResolvedConfig } from "../config/resolved.js";

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

/** Applies a config file to one host of the lab through the engine, as `symroute apply --netns` does; warnings go to `say`. */
export async function applyFile(lab: Lab, host: string, file: string, say?: Say): Promise<ApplyOutcome> {
  const { outcome, warnings } = await reconcile({ netns: lab.ns(host), load: loader(readFileSync(file, "utf8"), file) });
  for (const w of warnings) say?.(`  warning: ${w}`);
  if (outcome.rolledBack) throw new Error(`apply failed and was rolled back: ${outcome.rolledBack.error}`);
  return outcome;
}

/** A config's text as the engine's loader: checked each time it is called, its errors located and thrown. */
export function loader(text: string, file = "lab.yaml"): () => ResolvedConfig {
  return () => {
    const r = loadConfigText(text, file);
    if (!r.ok) throw new Error(r.issues.map(formatIssue).join("\n"));
    return r.value;
  };
}

/** Removes symroute's objects from a host, as `symroute destroy --netns` does. */
export async function destroyIn(lab: Lab, host: string): Promise<ApplyOutcome> {
  return (await destroy({ netns: lab.ns(host) })).outcome;
}

/** One line about an apply. */
export function describeApply(outcome: ApplyOutcome): string {
  return outcome.changed ? planSummary(outcome.plan) : "no changes";
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` holds, every `stepMs`; the time it took, or null past `limitMs`. */
export async function until(check: () => Promise<boolean> | boolean, limitMs: number, stepMs = 10): Promise<number | null> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > limitMs) return null;
    await sleep(stepMs);
  }
}
