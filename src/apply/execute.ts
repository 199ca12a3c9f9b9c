/**
 * Carries out a plan: one nft transaction, then one `ip -batch` per family
 * (routes first so no rule ever points at an empty table, removals last),
 * then sysctls. Stops at the first failure; the caller rolls back.
 */
import type { Runner } from "../kernel/runner.js";
import type { Plan } from "../plan/plan.js";
import { replaceTableCommands, deleteTableCommands } from "../model/nftTable.js";
import { runNftTransaction } from "../kernel/nft.js";
import { runIpBatch, type BatchLine } from "../kernel/ipWrite.js";
import { routeWords, ruleWords } from "../model/ipWords.js";
import { linkCreateCommands, linkDeleteCommands } from "../model/linkWords.js";
import { extraWords } from "../model/extra.js";
import { writeSysctls } from "../kernel/sysctl.js";
import { NFT_TABLE } from "../compile/index.js";
import { kindOf, type ErrorKind } from "../model/errorKind.js";

/** The ip batch lines of a plan for one family, in the order they must run. */
export function batchLines(plan: Plan, family: 4 | 6): BatchLine[] {
  const lines: BatchLine[] = [];
  for (const e of plan.extras.add) if (e.family === family) lines.push(extraWords(e, "add"));
  for (const r of plan.routes.add) if (r.family === family) lines.push(["route", "add", ...routeWords(r)]);
  for (const c of plan.routes.change) if (c.to.family === family) lines.push(["route", "replace", ...routeWords(c.to)]);
  for (const r of plan.rules.add) if (r.family === family) lines.push(["rule", "add", ...ruleWords(r)]);
  for (const r of plan.rules.remove) if (r.family === family) lines.push(["rule", "del", ...ruleWords(r)]);
  for (const r of plan.routes.remove) if (r.family === family) lines.push(["route", "del", ...routeWords(r)]);
  for (const e of plan.extras.remove) if (e.family === family) lines.push(extraWords(e, "del"));
  return lines;
}

/** The nft commands of a plan, every table in one transaction (empty when all stay): a balancer's routed and fast paths change together. */
export function nftCommands(plan: Plan): Record<string, unknown>[] {
  return [...tableChange(plan.nft, "inet"), ...tableChange(plan.nftArp, "arp"), ...tableChange(plan.nftNetdev, "netdev")];
}

function tableChange(change: Plan["nft"], family: "inet" | "arp" | "netdev"): Record<string, unknown>[] {
  switch (change.action) {
    case "create":
    case "replace":
      return replaceTableCommands(change.table!);
    case "update":
      return change.commands ?? [];
    case "delete":
      return deleteTableCommands(family, NFT_TABLE);
    case "none":
      return [];
  }
}

/** A named step, so failures say where they happened. */
export type Step = "links" | "nft" | "ip4" | "ip6" | "sysctl";

/** Thrown when a step fails; names the step. */
export class StepError extends Error {
  /** the kind of what failed inside the step (a race in an ip batch is retryable) */
  readonly kind: ErrorKind;
  constructor(
    readonly step: Step,
    readonly failure: unknown,
  ) {
    super(`${step}: ${failure instanceof Error ? failure.message : String(failure)}`);
    this.name = "StepError";
    this.kind = kindOf(failure);
  }
}

/** Hooks for tests that inject failures between steps. */
export interface ExecuteHooks {
  beforeStep?: (step: Step) => void | Promise<void>;
}

/** Executes the plan against the kernel. */
export async function executePlan(runner: Runner, plan: Plan, hooks: ExecuteHooks = {}): Promise<void> {
  const step = async (name: Step, fn: () => Promise<void>) => {
    try {
      await hooks.beforeStep?.(name);
      await fn();
    } catch (e) {
      throw e instanceof StepError ? e : new StepError(name, e);
    }
  };
  await step("links", () => runIpBatch(runner, 4, linkCreateCommands(plan.links.add)));
  await step("nft", () => runNftTransaction(runner, nftCommands(plan)));
  await step("ip4", () => runIpBatch(runner, 4, batchLines(plan, 4)));
  await step("ip6", () => runIpBatch(runner, 6, batchLines(plan, 6)));
  const values: Record<string, string> = {};
  for (const s of plan.sysctls) values[s.key] = s.to;
  await step("sysctl", () => writeSysctls(runner, values));
  await step("links", () => runIpBatch(runner, 4, linkDeleteCommands(plan.links.remove)));
}
