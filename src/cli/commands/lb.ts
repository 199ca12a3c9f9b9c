/**
 * `symroute lb show NAME` and `symroute lb flows`: the balancers as applied,
 * with their Maglev tables summarised and the kernel's match counters.
 */
import type { Command } from "commander";
import { CliError, printJson, runnerFor } from "../common.js";
import { readStateOrEmpty } from "../common.js";
import { balancerViews, type BalancerView } from "../../engine/index.js";
import { callDaemon } from "../../daemon/client.js";

/** The balancers' views: from a running daemon when one answers, else from the state and the kernel. */
async function views(netns?: string): Promise<BalancerView[]> {
  runnerFor(netns);
  const answer = await callDaemon("GET", "/v1/balancers", netns);
  if (answer?.status === 200) return answer.body.balancers as BalancerView[];
  return balancerViews({ netns, balancers: readStateOrEmpty(netns).applied?.desired.balancers ?? [] });
}

export function registerLbCommand(program: Command): void {
  const lb = program.command("lb").description("load balancers as applied: targets, Maglev tables, flow counters");
  lb.command("show")
    .description("targets, marks, tables, Maglev table size and each target's share")
    .argument("<name>")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .action(async (name: string, opts: { netns?: string; json?: boolean }) => {
      const all = await views(opts.netns);
      const b = all.find((x) => x.name === name);
      if (!b) throw new CliError(`lb show: no applied load balancer named '${name}'${all.length ? ` (applied: ${all.map((x) => x.name).join(", ")})` : ""}`);
      const targets = b.targets;
      if (opts.json) return printJson({ name: b.name, vips: b.vips, size: b.size, seed: b.seed, assignment: b.assignment, ...(b.flowMemory ? { flowMemory: b.flowMemory } : {}), flows: b.flows, targets });
      const memory = b.flowMemory ? `; flow memory ${b.flowMemory.timeout}s, at most ${b.flowMemory.size} flows per target and family` : "; stateless";
      const lines = [`${b.name}: VIPs ${b.vips.join(", ")}; Maglev size ${b.size}, seed ${b.seed}, assignment ${b.assignment}${memory}`];
      const remembered = (t: (typeof targets)[number]) => (b.flowMemory ? ` ${String(t.remembered ?? 0).padStart(10)}` : "");
      lines.push(`  ${"target".padEnd(16)} ${"state".padEnd(9)} ${"mark".padEnd(9)} ${"table".padEnd(6)} ${"via".padEnd(28)} ${"entries".padStart(8)} ${"share".padStart(7)} ${"packets".padStart(9)}${b.flowMemory ? ` ${"remembered".padStart(10)}` : ""}${targets.some((t) => t.source) ? "  source" : ""}`);
      for (const t of targets)
        lines.push(`  ${t.name.padEnd(16)} ${(t.state ?? "up").padEnd(9)} ${t.mark.padEnd(9)} ${String(t.table).padEnd(6)} ${[t.via, t.via6].filter(Boolean).join(" ").padEnd(28)} ${String(t.entries).padStart(8)} ${(t.share * 100).toFixed(1).padStart(6)}% ${String(t.packets).padStart(9)}${remembered(t)}${t.source ? `  ${t.source}` : ""}`);
      process.stdout.write(lines.join("\n") + "\n");
    });
  lb.command("flows")
    .description("flows of every applied balancer with the kernel's match counters")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .action(async (opts: { netns?: string; json?: boolean }) => {
      const all = await views(opts.netns);
      const rows = all.flatMap((b) => Object.entries(b.flowMatches).map(([flow, matches]) => ({ balancer: b.name, flow, matches })));
      if (opts.json) return printJson(rows);
      const lines = rows.map((r) => `  ${r.balancer.padEnd(16)} ${r.flow.padEnd(30)} ${String(r.matches).padStart(9)} packets`);
      process.stdout.write((lines.length ? lines : ["no load balancers applied"]).join("\n") + "\n");
    });
}
