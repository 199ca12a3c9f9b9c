/**
 * `symroute lb show NAME` and `symroute lb flows`: the balancers as applied,
 * with their Maglev tables summarised and the kernel's match counters.
 */
import type { Command } from "commander";
import { CliError, printJson, runnerFor } from "../common.js";
import { readStateOrEmpty } from "../common.js";
import { readNftTable } from "../../kernel/nft.js";
import { NFT_TABLE } from "../../compile/index.js";
import { shares } from "../../maglev/stats.js";
import type { BalancerInfo } from "../../model/balancer.js";
import { hex } from "../../model/rule.js";

function applied(netns?: string): BalancerInfo[] {
  runnerFor(netns);
  return readStateOrEmpty(netns).applied?.desired.balancers ?? [];
}

/** Packets and bytes of each counted rule, by its comment. */
async function counters(netns?: string): Promise<Map<string, { packets: number; bytes: number }>> {
  const objects = (await readNftTable(runnerFor(netns), "inet", NFT_TABLE, false)) ?? [];
  const out = new Map<string, { packets: number; bytes: number }>();
  for (const o of objects) {
    const rule = o.rule as { comment?: string; expr?: Record<string, unknown>[] } | undefined;
    if (!rule?.comment) continue;
    const c = rule.expr?.find((e) => "counter" in e)?.counter as { packets: number; bytes: number } | undefined;
    if (!c) continue;
    const prev = out.get(rule.comment) ?? { packets: 0, bytes: 0 };
    out.set(rule.comment, { packets: prev.packets + c.packets, bytes: prev.bytes + c.bytes });
  }
  return out;
}

export function registerLbCommand(program: Command): void {
  const lb = program.command("lb").description("load balancers as applied: targets, Maglev tables, flow counters");
  lb.command("show")
    .description("targets, marks, tables, Maglev table size and each target's share")
    .argument("<name>")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .action(async (name: string, opts: { netns?: string; json?: boolean }) => {
      const all = applied(opts.netns);
      const b = all.find((x) => x.name === name);
      if (!b) throw new CliError(`lb show: no applied load balancer named '${name}'${all.length ? ` (applied: ${all.map((x) => x.name).join(", ")})` : ""}`);
      const count = await counters(opts.netns);
      const entries = new Map(shares(b.table, b.targets.map((t) => t.name)).map((s) => [s.name, s.entries]));
      const targets = b.targets.map((t) => ({
        ...t,
        mark: hex(t.mark),
        entries: entries.get(t.name) ?? 0,
        share: b.size ? (entries.get(t.name) ?? 0) / b.size : 0,
        packets: count.get(`${b.name}: target ${t.name}`)?.packets ?? 0,
      }));
      if (opts.json) return printJson({ name: b.name, vips: b.vips, size: b.size, seed: hex(b.seed), assignment: b.assignment, flows: b.flows, targets });
      const lines = [`${b.name}: VIPs ${b.vips.join(", ")}; Maglev size ${b.size}, seed ${hex(b.seed)}, assignment ${b.assignment}`];
      lines.push(`  ${"target".padEnd(16)} ${"mark".padEnd(9)} ${"table".padEnd(6)} ${"via".padEnd(28)} ${"entries".padStart(8)} ${"share".padStart(7)} ${"packets".padStart(9)}`);
      for (const t of targets)
        lines.push(`  ${t.name.padEnd(16)} ${t.mark.padEnd(9)} ${String(t.table).padEnd(6)} ${[t.via, t.via6].filter(Boolean).join(" ").padEnd(28)} ${String(t.entries).padStart(8)} ${(t.share * 100).toFixed(1).padStart(6)}% ${String(t.packets).padStart(9)}`);
      process.stdout.write(lines.join("\n") + "\n");
    });
  lb.command("flows")
    .description("flows of every applied balancer with the kernel's match counters")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .action(async (opts: { netns?: string; json?: boolean }) => {
      const all = applied(opts.netns);
      const count = await counters(opts.netns);
      const rows = all.flatMap((b) => [
        ...b.flows.map((f) => ({ balancer: b.name, flow: f, matches: count.get(`${b.name}: flow ${f}`)?.packets ?? 0 })),
        { balancer: b.name, flow: "(no flow matched: dropped)", matches: count.get(`${b.name}: no flow matched`)?.packets ?? 0 },
      ]);
      if (opts.json) return printJson(rows);
      const lines = rows.map((r) => `  ${r.balancer.padEnd(16)} ${r.flow.padEnd(30)} ${String(r.matches).padStart(9)} packets`);
      process.stdout.write((lines.length ? lines : ["no load balancers applied"]).join("\n") + "\n");
    });
}
