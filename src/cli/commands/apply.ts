/**
 * apply, confirm, destroy and status: the commands that change the kernel or
 * report what symroute owns in it.
 */
import { randomUUID } from "node:crypto";
import type { Command } from "commander";
import { CliError, EXIT, compileFor, loadConfigFile, printJson, runnerFor } from "../common.js";
import { MAX_CONFIG_SIZE_HELP, MAX_CONFIG_SIZE_OPTION } from "../../config/read.js";
import { applyDesired, planAgainstKernel, RefusedError, type ApplyOutcome } from "../../apply/apply.js";
import { rollback } from "../../apply/rollback.js";
import type { ExecuteHooks } from "../../apply/execute.js";
import { formatPlan, planSummary } from "../../plan/format.js";
import { isEmptyPlan } from "../../plan/plan.js";
import { emptyDesired } from "../../model/desired.js";
import { readState, removeState, writeState } from "../../kernel/state.js";
import { spawnSelfDetached } from "../../kernel/detach.js";
import { readLive } from "../../kernel/live.js";
import { rpFilterKeys, startReads } from "../reads.js";
import { SYMROUTE_PROTO } from "../../model/ownership.js";

const NO_RANGE = { first: 1, last: 0 };

/**
 * SYMROUTE_FAULT=crash-before:STEP kills this process with SIGKILL just before
 * an apply step, so tests can prove that the next apply repairs a cut-short one.
 */
function faultHooks(): ExecuteHooks {
  const m = /^crash-before:(nft|ip4|ip6|sysctl)$/.exec(process.env.SYMROUTE_FAULT ?? "");
  if (!m) return {};
  return { beforeStep: (step) => void (step === m[1] && process.kill(process.pid, "SIGKILL")) };
}

/** "30s", "2m", "90" (seconds) to milliseconds. */
export function parseDuration(text: string): number {
  const m = /^([0-9]+)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new CliError(`--confirm-timeout: '${text}' is not a duration such as 30s or 2m`);
  const n = Number(m[1]);
  return m[2] === "ms" ? n : m[2] === "m" ? n * 60_000 : n * 1000;
}

function report(outcome: ApplyOutcome, json: boolean | undefined, extra: Record<string, unknown> = {}): void {
  if (json) {
    printJson({ changed: outcome.changed, rolledBack: outcome.rolledBack ?? null, plan: outcome.plan, ...extra });
    return;
  }
  if (outcome.rolledBack) {
    process.stderr.write(`apply failed: ${outcome.rolledBack.error}\n`);
    process.stderr.write(outcome.rolledBack.restored ? "rolled back: the kernel is as it was before\n" : "rollback could not restore everything; run apply again\n");
    return;
  }
  if (!outcome.changed) process.stdout.write("No changes: the kernel matches the config.\n");
  else process.stdout.write(formatPlan(outcome.plan) + `Applied: ${planSummary(outcome.plan)}.\n`);
}

export function registerWriteCommands(program: Command): void {
  program
    .command("apply")
    .description("make the kernel match the file; atomic, verified, rolled back on failure")
    .argument("<file>")
    .option("--netns <name>", "network namespace to change")
    .option("--json", "machine-readable output")
    .option("--confirm-timeout <duration>", "revert unless `symroute confirm` follows within this time")
    .option("--allow-conflicts", "apply even where foreign objects stand in symroute's ranges")
    .option(MAX_CONFIG_SIZE_OPTION, MAX_CONFIG_SIZE_HELP)
    .action(async (file: string, opts: { netns?: string; json?: boolean; confirmTimeout?: string; allowConflicts?: boolean; maxConfigSize?: string }) => {
      const runner = runnerFor(opts.netns);
      // the kernel is read while the config is parsed: one read serves compile (addresses) and plan (objects)
      const reads = startReads(runner);
      const resolved = loadConfigFile(file, opts.maxConfigSize);
      const timeout = opts.confirmTimeout ? parseDuration(opts.confirmTimeout) : null;
      const prefetched = reads.objects;
      const compiled = await compileFor(resolved, runner, reads.ip, reads.facts);
      if (!opts.json) for (const w of compiled.warnings) process.stderr.write(`warning: ${w}\n`);
      const before = readState(opts.netns);
      let outcome: ApplyOutcome;
      try {
        outcome = await applyDesired({ runner, desired: compiled.desired, priorities: resolved.priorities, file, allowConflicts: opts.allowConflicts, hooks: faultHooks(), prefetched, knownSysctls: rpFilterKeys(compiled.facts) });
      } catch (e) {
        if (e instanceof RefusedError) throw new CliError(`${file}: ${e.message}`);
        throw e;
      }
      let pending: Record<string, unknown> = {};
      if (timeout !== null && outcome.changed && outcome.snapshot) {
        const token = randomUUID();
        const deadline = new Date(Date.now() + timeout).toISOString();
        const state = readState(opts.netns);
        writeState({ ...state, pending: { token, deadline, snapshot: { ...outcome.snapshot, applied: before.applied } } }, opts.netns);
        spawnSelfDetached(["_revert", "--token", token, ...(opts.netns ? ["--netns", opts.netns] : [])]);
        pending = { confirmBy: deadline };
        if (!opts.json) process.stdout.write(`Run 'symroute confirm${opts.netns ? ` --netns ${opts.netns}` : ""}' before ${deadline} or the change is reverted.\n`);
      }
      report(outcome, opts.json, pending);
      if (outcome.rolledBack) process.exitCode = EXIT.rolledBack;
    });

  program
    .command("confirm")
    .description("keep the change of the last `apply --confirm-timeout`")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .action((opts: { netns?: string; json?: boolean }) => {
      runnerFor(opts.netns);
      const state = readState(opts.netns);
      if (!state.pending) throw new CliError("nothing waits for confirmation");
      writeState({ ...state, pending: null }, opts.netns);
      if (opts.json) printJson({ confirmed: true });
      else process.stdout.write("Confirmed: the change stays.\n");
    });

  program
    .command("_revert", { hidden: true })
    .requiredOption("--token <token>")
    .option("--netns <name>")
    .action(async (opts: { token: string; netns?: string }) => {
      const first = readState(opts.netns);
      if (!first.pending || first.pending.token !== opts.token) return;
      const wait = Date.parse(first.pending.deadline) - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const state = readState(opts.netns);
      if (!state.pending || state.pending.token !== opts.token) return;
      const runner = runnerFor(opts.netns);
      await rollback(runner, state.pending.snapshot, NO_RANGE);
      const previous = state.pending.snapshot.applied as typeof state.applied;
      writeState({ ...state, applied: previous ?? null, pending: null }, opts.netns);
    });

  program
    .command("destroy")
    .description("remove everything symroute owns and restore the sysctls it changed")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .action(async (opts: { netns?: string; json?: boolean }) => {
      const runner = runnerFor(opts.netns);
      const outcome = await applyDesired({ runner, desired: emptyDesired(), priorities: NO_RANGE, allowConflicts: true, destroying: true });
      if (!outcome.rolledBack) removeState(opts.netns);
      report(outcome, opts.json);
      if (outcome.rolledBack) process.exitCode = EXIT.rolledBack;
    });

  program
    .command("status")
    .description("what symroute owns now, and any drift from the last apply")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .action(async (opts: { netns?: string; json?: boolean }) => {
      const runner = runnerFor(opts.netns);
      const state = readState(opts.netns);
      const live = await readLive(runner, Object.keys(state.sysctlOriginals));
      const rules = live.rules.filter((r) => r.protocol === SYMROUTE_PROTO).length;
      const routes = live.routes.filter((r) => r.protocol === SYMROUTE_PROTO).length;
      let drift: string[] = [];
      if (state.applied) {
        const { plan } = await planAgainstKernel(runner, state.applied.desired, NO_RANGE);
        if (!isEmptyPlan(plan)) drift = formatPlan(plan).trim().split("\n");
      }
      const summary = {
        applied: state.applied ? { file: state.applied.file ?? null, at: state.applied.at } : null,
        owned: { rules, routes, nftTable: live.nft !== null },
        sysctlOriginals: state.sysctlOriginals,
        pendingConfirm: state.pending ? state.pending.deadline : null,
        interruptedApply: state.journal ? state.journal.startedAt : null,
        drift,
      };
      if (opts.json) return printJson(summary);
      const out = [
        state.applied ? `Last apply: ${state.applied.file ?? "(unknown file)"} at ${state.applied.at}` : "Nothing applied.",
        `Owned: ${rules} rules, ${routes} routes, nft table ${live.nft ? "present" : "absent"}`,
        `Sysctls changed: ${Object.keys(state.sysctlOriginals).length}`,
      ];
      if (state.pending) out.push(`Waiting for 'symroute confirm' until ${state.pending.deadline}`);
      if (state.journal) out.push(`An apply started ${state.journal.startedAt} did not finish; the next apply repairs it.`);
      out.push(drift.length ? `Drift from the last apply:\n  ${drift.join("\n  ")}` : "No drift.");
      process.stdout.write(out.join("\n") + "\n");
    });
}
