/**
 * `symroute lab load-balancer`: 400 connections to a VIP before and after
 * symroute, spread over four targets; a target removed and restored, with the
 * connections that moved counted.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Lab } from "./lab.js";
import { buildLoadBalancer, LB, probe } from "./loadBalancer.js";
import { applyFile, describeApply, destroyIn, type Say } from "./story.js";
import { examplePath } from "./examples.js";
import { dynamicTargetsStory } from "./dynamicTargetsStory.js";

const SPORTS = Array.from({ length: 400 }, (_, i) => 20000 + i * 7);

function table(results: (string | null)[], say: Say): void {
  const counts = new Map<string, number>();
  for (const r of results) counts.set(r ?? "(no answer)", (counts.get(r ?? "(no answer)") ?? 0) + 1);
  for (const [name, n] of [...counts.entries()].sort()) say(`  ${name.padEnd(12)} ${String(n).padStart(4)}  ${"#".repeat(Math.round(n / 5))}`);
}

/** The story; true when it held (nothing before, all four targets within 25% of even after, only the removed target's connections moving far). */
export async function loadBalancerStory(lab: Lab, say: Say): Promise<boolean> {
  say("== load-balancer (seeds 002/003): flows of a VIP hashed with Maglev to four targets, in the kernel ==");
  say(`building namespaces ${lab.prefix}-{tg,gw,fe,swa,swb,ta,tb,tc,td}`);
  const servers = await buildLoadBalancer(lab);
  say(`before symroute: TCP connections from the traffic generator to ${LB.vip4}:${LB.tcpPort}`);
  const before = await probe(lab, { vip: LB.vip4, port: LB.tcpPort, sports: SPORTS.slice(0, 40) });
  say(`  ${before.filter((r) => r === null).length} of 40 tried got no answer: the frontend has no route to the VIP`);
  const file = examplePath("load-balancer.yaml");
  say(`symroute apply ${file} (in ${lab.ns("fe")}):`);
  say(`  ${describeApply(await applyFile(lab, "fe", file, say))}`);
  say("after symroute, who answered (400 connections from varied source ports):");
  const all = await probe(lab, { vip: LB.vip4, port: LB.tcpPort, sports: SPORTS });
  table(all, say);
  const dir = mkdtempSync(join(tmpdir(), "symroute-lab-"));
  try {
    const without = readFileSync(file, "utf8").replace(/\n      - \{ name: target-d[^\n]*/, "");
    const withoutFile = join(dir, "without-target-d.yaml");
    writeFileSync(withoutFile, without);
    say("target-d removed (symroute apply without it):");
    await applyFile(lab, "fe", withoutFile);
    const after = await probe(lab, { vip: LB.vip4, port: LB.tcpPort, sports: SPORTS });
    table(after, say);
    const moved = all.filter((r, i) => r !== "target-d" && after[i] !== r).length;
    const fromD = all.filter((r) => r === "target-d").length;
    say(`  target-d's ${fromD} connections moved; of the other ${400 - fromD}, ${moved} moved too (Maglev's collateral; assignment: stable moves none)`);
    say("target-d restored:");
    await applyFile(lab, "fe", file);
    const back = await probe(lab, { vip: LB.vip4, port: LB.tcpPort, sports: SPORTS });
    say(`  ${back.filter((r, i) => r === all[i]).length} of 400 connections are back on the target they had at first`);
    say("symroute destroy: frontend back as it was");
    await destroyIn(lab, "fe");
    const counts = ["target-a", "target-b", "target-c", "target-d"].map((t) => all.filter((r) => r === t).length);
    const stateless = before.every((r) => r === null) && counts.every((c) => c >= 75 && c <= 125) && moved / (400 - fromD) <= 0.1 && back.every((r, i) => r === all[i]);
    return (await dynamicTargetsStory(lab, servers, say)) && stateless;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
