/**
 * Simulated routing decisions per second against asking the kernel one
 * decision at a time (`ip route get`, one process each), and against the
 * kernel in batches (`ip -batch`, thousands per process), in one run, on the
 * same rule set and packets. Needs root.
 */
import { spawnSync } from "node:child_process";
import { Lab } from "../src/lab/lab.js";
import { readKernelView, kernelDecisions, routeGetWords } from "../src/engine/simView.js";
import { decide } from "../src/simulate/route.js";
import type { Packet } from "../src/simulate/types.js";

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench needs root");
  const lab = new Lab("bs");
  try {
    await lab.addHosts("d", "peer");
    const batch: string[] = [];
    for (let i = 0; i < 8; i++) {
      await lab.link("d", `d${i}`, "peer", `p${i}`);
      await lab.addr("d", `d${i}`, `10.${i}.0.1/24`);
      batch.push(`route add default via 10.${i}.0.254 table ${100 + i}`, `route add 172.${16 + i}.0.0/16 via 10.${i}.0.254 table ${100 + i}`);
    }
    for (let r = 0; r < 64; r++) batch.push(`rule add priority ${1000 + r} from 192.168.${r}.0/24 fwmark ${r} lookup ${100 + (r % 8)}`);
    await lab.exec("d", ["ip", "-batch", "-"], batch.join("\n") + "\n");
    const view = await readKernelView(lab.runner("d"));
    const packets: Packet[] = Array.from({ length: 2000 }, (_, i) => ({ family: 4, dst: `172.${16 + (i % 8)}.${i % 250}.${(i * 7) % 250}`, src: `10.${i % 8}.0.1`, mark: i % 64 }));

    // warm the JIT first: the kernel's answers are timed from a cold process, but a simulator answers thousands
    for (let w = 0; w < 20; w++) for (const p of packets) decide(view, p);
    let n = 0;
    const simStart = process.hrtime.bigint();
    while (n < 400_000) for (const p of packets) decide(view, p), n++;
    const simRate = n / (Number(process.hrtime.bigint() - simStart) / 1e9);

    const oneCount = 200;
    const oneStart = process.hrtime.bigint();
    for (const p of packets.slice(0, oneCount)) spawnSync("ip", ["-n", lab.ns("d"), ...routeGetWords(p)], { encoding: "utf8" });
    const oneRate = oneCount / (Number(process.hrtime.bigint() - oneStart) / 1e9);

    const batchStart = process.hrtime.bigint();
    await kernelDecisions(lab.runner("d"), packets);
    const batchRate = packets.length / (Number(process.hrtime.bigint() - batchStart) / 1e9);

    console.log("simulator benchmark (64 rules, 8 tables, one run):");
    console.log(`  simulated: ${simRate.toFixed(0)} decisions/s; ip route get one per process: ${oneRate.toFixed(0)}/s => ${(simRate / oneRate).toFixed(0)}x; ip -batch: ${batchRate.toFixed(0)}/s => ${(simRate / batchRate).toFixed(1)}x`);
  } finally {
    await lab.teardown();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
