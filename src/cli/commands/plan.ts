/**
 * validate, plan and render: commands that read but never change the kernel.
 */
import type { Command } from "commander";
import { CliError, EXIT, compileFor, loadConfigFile, printJson, runnerFor } from "../common.js";
import { MAX_CONFIG_SIZE_HELP, MAX_CONFIG_SIZE_OPTION } from "../../config/read.js";
import { hostSystemdVersion, planConfig } from "../../engine/index.js";
import { formatPlan, planSummary } from "../../plan/format.js";
import { isEmptyPlan } from "../../plan/plan.js";
import { holdsChanges } from "../../plan/conflicts.js";
import { render, RENDER_FORMATS, type RenderFormat } from "../../render/index.js";
import { parseSystemdVersionFlag, renderOptionsFor, SYSTEMD_VERSION_HELP } from "../../render/options.js";
import { formatIssue } from "../../config/errors.js";
import { renderBirdForUsers } from "../../bgp/render.js";

export function registerReadCommands(program: Command): void {
  program
    .command("validate")
    .description("check a config file; every error with file:line:col")
    .argument("<file>")
    .option("--json", "machine-readable output")
    .option(MAX_CONFIG_SIZE_OPTION, MAX_CONFIG_SIZE_HELP)
    .action((file: string, opts: { json?: boolean; maxConfigSize?: string }) => {
      try {
        const resolved = loadConfigFile(file, opts.maxConfigSize);
        if (opts.json) printJson({ valid: true, file, issues: [], warnings: resolved.warnings });
        else {
          for (const w of resolved.warnings) process.stderr.write(`${formatIssue(w)} (warning)\n`);
          const c = resolved.config;
          process.stdout.write(`${file}: valid (${c.uplinks.length} uplinks, ${c.services.length} services, ${c.loadBalancers.length} load balancers, ${c.routedNetworks.length} routed networks)\n`);
        }
      } catch (e) {
        if (opts.json && e instanceof CliError) {
          printJson({ valid: false, file, issues: e.issues.length ? e.issues : [{ file, line: 0, col: 0, path: [], message: e.message }] });
          process.exitCode = e.exitCode;
          return;
        }
        throw e;
      }
    });

  program
    .command("plan")
    .description("what apply would change, as a readable diff")
    .argument("<file>")
    .option("--netns <name>", "network namespace to compare against")
    .option("--json", "machine-readable output")
    .option("--exit-code", "exit 2 when there are changes")
    .option(MAX_CONFIG_SIZE_OPTION, MAX_CONFIG_SIZE_HELP)
    .action(async (file: string, opts: { netns?: string; json?: boolean; exitCode?: boolean; maxConfigSize?: string }) => {
      runnerFor(opts.netns);
      const { plan, compiled } = await planConfig(() => loadConfigFile(file, opts.maxConfigSize), { netns: opts.netns });
      // a change held back by a conflict is still a difference between the kernel and the file
      const changes = !isEmptyPlan(plan) || holdsChanges(plan.held);
      if (opts.json) printJson({ changes, plan, warnings: compiled.warnings });
      else {
        for (const w of compiled.warnings) process.stderr.write(`warning: ${w}\n`);
        process.stdout.write(formatPlan(plan));
        if (changes) process.stdout.write(`Plan: ${planSummary(plan)}.\n`);
      }
      if (opts.exitCode && changes) process.exitCode = EXIT.changes;
    });

  program
    .command("render")
    .description("the same state in a distribution's own format")
    .argument("<file>")
    .requiredOption("--format <format>", `one of ${RENDER_FORMATS.join(", ")}, bird (the BGP speaker's file)`)
    .option("--netns <name>", "read interface addresses from this namespace")
    .option("--offline", "do not read the kernel; use only what the file says")
    .option("--systemd-version <n>", SYSTEMD_VERSION_HELP, parseSystemdVersionFlag)
    .option(MAX_CONFIG_SIZE_OPTION, MAX_CONFIG_SIZE_HELP)
    .action(async (file: string, opts: { format: string; netns?: string; offline?: boolean; maxConfigSize?: string; systemdVersion?: number }) => {
      if (!(RENDER_FORMATS as readonly string[]).includes(opts.format) && opts.format !== "bird")
        throw new CliError(`--format: '${opts.format}' is not one of ${RENDER_FORMATS.join(", ")}, bird`);
      const resolved = loadConfigFile(file, opts.maxConfigSize);
      // the BGP speaker's file depends on the config only: no kernel read, no compile
      if (opts.format === "bird") return void process.stdout.write(renderBirdForUsers(resolved.config));
      const compiled = await compileFor(resolved, opts.offline ? null : runnerFor(opts.netns));
      process.stdout.write(render(compiled.desired, opts.format as RenderFormat, await renderOptionsFor(opts.format as RenderFormat, opts, async () => (await hostSystemdVersion()).version)));
    });
}
