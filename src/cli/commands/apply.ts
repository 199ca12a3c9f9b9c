/**
 * apply, confirm, destroy and status: thin commands over the engine that
 * print what it returns and turn it into exit codes.
 */
import type { Command } from "commander";
import { CliError, EXIT, loadConfigFile, printJson, runnerFor } from "../common.js";
import { MAX_CONFIG_SIZE_HELP, MAX_CONFIG_SIZE_OPTION } from "../../config/read.js";
import { RefusedError, type ApplyOutcome } from "../../engine/index.js";
import type { ExecuteHooks } from "../../engine/index.js";
import { formatPlan, planSummary } from "../../plan/format.js";
import { confirm, destroy, interruptSignal, reconcile, revert, status, DEFAULT_WAIT_MS } from "../../engine/index.js";
import type { LockHolder } from "../../engine/index.js";
import { readState } from "../../engine/index.js";
import { callDaemon } from "../../daemon/client.js";
import type { DaemonSnapshot } from "../../daemon/daemon.js";
import type { StatusReport } from "../../engine/index.js";
import { refuseWhileDaemonRuns } from "./daemonGuard.js";

/**
 * SYMROUTE_FAULT=crash-before:STEP kills this process with SIGKILL just before
 * an apply step, so tests can prove that the next apply repairs a cut-short one;
 * SYMROUTE_FAULT=pause-before:STEP prints "paused before STEP" and waits 3 s
 * there, so tests can send a signal in the middle of an apply.
 */
function faultHooks(): ExecuteHooks {
  const m = /^(crash|pause)-before:(links|nft|ip4|ip6|sysctl)$/.exec(process.env.SYMROUTE_FAULT ?? "");
  if (!m) return {};
  return {
    beforeStep: async (step) => {
      if (step !== m[2]) return;
      if (m[1] === "crash") process.kill(process.pid, "SIGKILL");
      process.stderr.write(`paused before ${step}\n`);
      await new Promise((r) => setTimeout(r, 3000));
    },
  };
}

/** "30s", "2m", "500ms", "90" (seconds) to milliseconds. */
export function parseDuration(text: string, option = "--confirm-timeout"): number {
  const m = /^([0-9]+)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new CliError(`${option}: '${text}' is not a duration such as 30s or 2m`);
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

/** The options every writing command shares: which namespace, how long to wait for another writer. */
function writerOptions(opts: { netns?: string; wait?: string }, json?: boolean) {
  runnerFor(opts.netns);
  const waitMs = opts.wait !== undefined ? parseDuration(opts.wait, "--wait") : DEFAULT_WAIT_MS;
  const onWait = (h: LockHolder | null) => {
    if (!json) process.stderr.write(`waiting for another symroute command${h ? ` (pid ${h.pid}, '${h.command}')` : ""} to finish...\n`);
  };
  return { netns: opts.netns, waitMs, onWait };
}

const WAIT_HELP = "how long to wait for another symroute command on the same state (default 30s)";

export function registerWriteCommands(program: Command): void {
  program
    .command("apply")
    .description("make the kernel match the file; atomic, verified, rolled back on failure")
    .argument("<file>")
    .option("--netns <name>", "network namespace to change")
    .option("--json", "machine-readable output")
    .option("--confirm-timeout <duration>", "revert unless `symroute confirm` follows within this time")
    .option("--allow-conflicts", "apply every change no foreign object stands on, and leave those objects alone")
    .option("--force", "apply even while a symroute daemon manages the namespace (it undoes what differs from its file)")
    .option("--wait <duration>", WAIT_HELP)
    .option(MAX_CONFIG_SIZE_OPTION, MAX_CONFIG_SIZE_HELP)
    .action(async (file: string, opts: { netns?: string; json?: boolean; confirmTimeout?: string; allowConflicts?: boolean; force?: boolean; wait?: string; maxConfigSize?: string }) => {
      const timeout = opts.confirmTimeout ? parseDuration(opts.confirmTimeout) : undefined;
      runnerFor(opts.netns);
      await refuseWhileDaemonRuns("apply", opts.netns, opts.force);
      const interrupts = interruptSignal();
      try {
        const result = await reconcile({
          ...writerOptions(opts, opts.json),
          load: () => loadConfigFile(file, opts.maxConfigSize),
          allowConflicts: opts.allowConflicts,
          confirmTimeoutMs: timeout,
          hooks: faultHooks(),
          abort: interrupts.signal,
        });
        if (!opts.json) for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
        if (result.confirmedPending && !opts.json) process.stderr.write(`The change waiting for 'symroute confirm' (until ${result.confirmedPending.deadline}) is confirmed by this apply.\n`);
        if (result.confirmBy && !opts.json)
          process.stdout.write(`Run 'symroute confirm${opts.netns ? ` --netns ${opts.netns}` : ""}' before ${result.confirmBy} or the change is reverted.\n`);
        report(result.outcome, opts.json, {
          warnings: result.warnings,
          ...(result.confirmBy ? { confirmBy: result.confirmBy } : {}),
          confirmedPending: result.confirmedPending,
          lockWaitedMs: result.lockWaitedMs,
        });
        if (result.outcome.rolledBack) process.exitCode = EXIT.rolledBack;
      } catch (e) {
        if (e instanceof RefusedError) throw new CliError(`${file}: ${e.message}`);
        if (interrupts.signal.aborted) throw new CliError(`interrupted by ${String(interrupts.signal.reason)} before anything changed`, EXIT.rolledBack);
        throw e;
      } finally {
        interrupts.dispose();
      }
    });

  program
    .command("confirm")
    .description("keep the change of the last `apply --confirm-timeout`")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .option("--wait <duration>", WAIT_HELP)
    .action(async (opts: { netns?: string; json?: boolean; wait?: string }) => {
      const confirmed = await confirm(writerOptions(opts, opts.json));
      if (!confirmed) throw new CliError("nothing waits for confirmation");
      if (opts.json) printJson({ confirmed: true, deadline: confirmed.deadline });
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
      // a long wait: an apply holding the lock now will confirm or replace this change
      await revert(opts.token, { netns: opts.netns, waitMs: 10 * 60_000 });
    });

  program
    .command("destroy")
    .description("remove everything symroute owns and restore the sysctls it changed")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .option("--force", "destroy even while a symroute daemon manages the namespace (it puts everything back)")
    .option("--wait <duration>", WAIT_HELP)
    .action(async (opts: { netns?: string; json?: boolean; force?: boolean; wait?: string }) => {
      runnerFor(opts.netns);
      await refuseWhileDaemonRuns("destroy", opts.netns, opts.force);
      const interrupts = interruptSignal();
      try {
        const result = await destroy({ ...writerOptions(opts, opts.json), abort: interrupts.signal }).catch((e: unknown) => {
          if (interrupts.signal.aborted) throw new CliError(`interrupted by ${String(interrupts.signal.reason)} before anything changed`, EXIT.rolledBack);
          throw e;
        });
        const unusable = result.unusableState;
        if (unusable && !opts.json) {
          process.stderr.write(`warning: the state file was unusable (${unusable.reason}); removed what the kernel's tags say symroute owns.\n`);
          process.stderr.write("warning: the sysctl originals were in that file and could not be restored: check rp_filter, forwarding, proxy_arp, proxy_ndp and proxy_delay by hand.\n");
          if (unusable.movedTo) process.stderr.write(`the file was moved to ${unusable.movedTo}\n`);
        }
        if (result.cancelledPending && !opts.json) process.stderr.write("The change waiting for 'symroute confirm' is cancelled by this destroy.\n");
        report(result.outcome, opts.json, { unusableState: unusable, sysctlsNotRestored: unusable ? "unknown: the originals were in the unusable state file" : null, lockWaitedMs: result.lockWaitedMs });
        if (result.outcome.rolledBack) process.exitCode = EXIT.rolledBack;
      } finally {
        interrupts.dispose();
      }
    });

  program
    .command("status")
    .description("what symroute owns now, and any drift from the last apply")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .action(async (opts: { netns?: string; json?: boolean }) => {
      runnerFor(opts.netns);
      // a running daemon answers from what it knows (and its own kernel read); otherwise read the kernel here
      const answer = await callDaemon("GET", "/v1/status", opts.netns);
      const daemon = answer?.status === 200 ? (answer.body.daemon as DaemonSnapshot) : null;
      const summary = daemon ? (answer!.body.kernel as StatusReport) : await status({ netns: opts.netns }).then(({ driftPlan: _p, ...s }) => s);
      if (opts.json) return printJson(daemon ? { ...summary, daemon } : summary);
      const out: string[] = [];
      if (daemon) {
        const last = daemon.lastReconcile;
        out.push(`Daemon: running since ${daemon.startedAt} (${daemon.reconciles.ok} reconciles, ${daemon.reconciles.failed} failed; last ${last ? `${last.at}${last.error ? `: FAILED ${last.error}` : ""}` : "none"})`);
        if (daemon.lastRepair) out.push(`Last repair: ${daemon.lastRepair.at}: ${daemon.lastRepair.summary ?? "changed"} (${daemon.lastRepair.reason})`);
        if (daemon.conflicts.length) out.push(`Conflicts (reported, not overwritten):\n  ${daemon.conflicts.join("\n  ")}`);
        // a daemon of an older symroute has no `held`
        if (daemon.held?.length) out.push(`Held until the conflicts go (everything else applied):\n  ${daemon.held.join("\n  ")}`);
      }
      if (summary.stateError) out.push(`warning: ${summary.stateError}`);
      out.push(
        summary.applied ? `Last apply: ${summary.applied.file ?? "(unknown file)"} at ${summary.applied.at}` : "Nothing applied.",
        `Owned: ${summary.owned.rules} rules, ${summary.owned.routes} routes, nft table ${summary.owned.nftTable ? "present" : "absent"}`,
        `Sysctls changed: ${Object.keys(summary.sysctlOriginals).length}`,
      );
      if (summary.pendingConfirm) out.push(`Waiting for 'symroute confirm' until ${summary.pendingConfirm}`);
      if (summary.interruptedApply) out.push(`An apply started ${summary.interruptedApply} did not finish; the next apply repairs it.`);
      out.push(summary.drift.length ? `Drift from the last apply:\n  ${summary.drift.join("\n  ")}` : "No drift.");
      process.stdout.write(out.join("\n") + "\n");
    });
}
