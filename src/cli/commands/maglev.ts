/**
 * `symroute maglev`: build a table from target names and a size, print the
 * balance and what removing each target would move.
 */
import type { Command } from "commander";
import { CliError, printJson } from "../common.js";
import { defaultSize, isPrime, maglevTable } from "../../maglev/table.js";
import { removalDisruption, shares } from "../../maglev/stats.js";
import { OBJECT_NAME } from "../../config/names.js";

export function registerMaglevCommand(program: Command): void {
  program
    .command("maglev")
    .description("build a Maglev table from target names; print balance and the disruption of removing each target")
    .requiredOption("--targets <names>", "comma-separated target names, e.g. a,b,c")
    .option("--size <M>", "table size, a prime (default: the smallest prime >= 100 x targets)")
    .option("--json", "machine-readable output")
    .action((opts: { targets: string; size?: string; json?: boolean }) => {
      const targets = opts.targets.split(",").map((t) => t.trim()).filter(Boolean);
      if (targets.length === 0) throw new CliError("--targets: give at least one name");
      const bad = targets.find((t) => !OBJECT_NAME.test(t));
      if (bad !== undefined) throw new CliError(`--targets: '${bad}' is not a valid target name`);
      if (new Set(targets).size !== targets.length) throw new CliError("--targets: names must be unique");
      const size = opts.size === undefined ? defaultSize(targets.length) : Number(opts.size);
      if (!isPrime(size)) throw new CliError(`--size: ${opts.size} is not a prime`);
      if (size < targets.length) throw new CliError(`--size: ${size} is smaller than the number of targets (${targets.length})`);
      const table = maglevTable(targets, size);
      const counts = shares(table, targets);
      const disruption = targets.length > 1 ? removalDisruption(targets, size) : [];
      if (opts.json) return printJson({ size, targets: counts, disruption });
      const even = size / targets.length;
      const lines = [`Maglev table: size ${size}, ${targets.length} targets, even share ${even.toFixed(1)} entries`];
      for (const c of counts) lines.push(`  ${c.name.padEnd(20)} ${String(c.entries).padStart(7)} entries  ${(c.entries / even).toFixed(4)} x even`);
      if (disruption.length) {
        lines.push("Removing one target moves (share of the table changing owner):");
        for (const d of disruption) lines.push(`  ${d.removed.padEnd(20)} ${(d.moved * 100).toFixed(2)}%  (ideal ${(100 / targets.length).toFixed(2)}%)`);
      }
      process.stdout.write(lines.join("\n") + "\n");
    });
}
