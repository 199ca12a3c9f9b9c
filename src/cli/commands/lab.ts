/**
 * `symroute lab [SCENARIO]`: the seeds' topologies in network namespaces,
 * the failure, the fix, the teardown (also on Ctrl-C).
 */
import type { Command } from "commander";
import { CliError, EXIT } from "../common.js";
import { runScenario, SCENARIOS, type Scenario } from "../../lab/scenarios.js";
import type { Lab } from "../../lab/lab.js";

export function registerLabCommand(program: Command): void {
  program
    .command("lab")
    .description(`build a seed's topology in namespaces, show the failure, apply, show the fix, tear down (${SCENARIOS.join(", ")}; all when omitted)`)
    .argument("[scenario]")
    .action(async (scenario: string | undefined) => {
      if (scenario !== undefined && !(SCENARIOS as readonly string[]).includes(scenario))
        throw new CliError(`lab: unknown scenario '${scenario}' (known: ${SCENARIOS.join(", ")})`);
      if (process.getuid?.() !== 0) throw new CliError("lab: needs root to create network namespaces");
      const live: Lab[] = [];
      const onSignal = async () => {
        process.stdout.write("\ninterrupted: tearing down\n");
        await Promise.all(live.map((l) => l.teardown()));
        process.exit(130);
      };
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      const chosen = scenario ? [scenario as Scenario] : [...SCENARIOS];
      let allHeld = true;
      for (const name of chosen) {
        const held = await runScenario(name, (line) => process.stdout.write(line + "\n"), (lab) => live.push(lab));
        process.stdout.write(held ? `${name}: the failure was shown and fixed\n\n` : `${name}: the story did NOT hold (see above)\n\n`);
        allHeld &&= held;
      }
      process.removeListener("SIGINT", onSignal);
      process.removeListener("SIGTERM", onSignal);
      if (!allHeld) process.exitCode = EXIT.invalid;
    });
}
