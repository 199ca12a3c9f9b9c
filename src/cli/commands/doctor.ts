/**
 * `symroute doctor`: finds replies that leave by another interface than they
 * came in on, rp_filter traps, rules pointing at empty tables, foreign rules
 * in symroute's range; each with the fix.
 */
import type { Command } from "commander";
import { printJson, runnerFor } from "../common.js";
import { readKernelView } from "../../engine/simView.js";
import { readFacts } from "../../engine/index.js";
import { readStateOrEmpty } from "../common.js";
import { diagnose } from "../../simulate/doctor.js";
import { planAgainstKernel } from "../../engine/index.js";
import { ruleKey } from "../../model/rule.js";
import { routeKey } from "../../model/route.js";

export function registerDoctorCommand(program: Command): void {
  program
    .command("doctor")
    .description("find return paths that leave by another interface, rp_filter traps, broken rules")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .action(async (o: { netns?: string; json?: boolean }) => {
      const runner = runnerFor(o.netns);
      const [view, facts] = await Promise.all([readKernelView(runner), readFacts(runner)]);
      const state = readStateOrEmpty(o.netns);
      const applied = state.applied;
      const missing: string[] = [];
      if (applied) {
        const { plan } = await planAgainstKernel(runner, applied.desired, applied.priorities ?? { first: 1, last: 0 }, state);
        missing.push(...plan.rules.add.map((r) => `rule ${ruleKey(r)}`), ...plan.routes.add.map((r) => `route ${routeKey(r)}`));
        if (plan.nft.action === "create") missing.push("nft table inet symroute");
      }
      const findings = diagnose({
        view,
        model: { marks: applied?.desired.marks, balancers: applied?.desired.balancers },
        rpFilter: facts.rpFilter,
        priorities: applied?.priorities ?? { first: 1000, last: 1999 },
        missing,
      });
      if (o.json) return printJson({ findings });
      if (findings.length === 0) {
        process.stdout.write("No problems found: replies leave by the interface their requests came in on.\n");
        return;
      }
      const lines: string[] = [];
      for (const f of findings) {
        lines.push(`[${f.kind}] ${f.message}`);
        for (const fix of f.fix) lines.push(...fix.split("\n").map((l, i) => `    ${i === 0 ? "fix: " : "     "}${l}`));
      }
      process.stdout.write(lines.join("\n") + "\n");
    });
}
