/**
 * Flow memory (issue 12, item 4) with real packets: each flow's target is
 * remembered in the kernel, so adding or removing a target moves no
 * established flow of the other targets, under plain `maglev` too, where the
 * stateless table moves some (its known collateral). Target changes are
 * in-place updates: the memory survives them. Established flows are UDP here:
 * a TCP connection reusing a remembered 4-tuple starts with a SYN, which takes
 * the table's decision (issue 19), so reused TCP source ports are new flows.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { Lab } from "../../src/lab/lab.js";
import { buildLoadBalancer, LB, probe } from "../../src/lab/loadBalancer.js";
import { examplePath } from "../../src/lab/examples.js";
import { cli, configFile, isRoot } from "../helpers/kernel.js";

const base = readFileSync(examplePath("load-balancer.yaml"), "utf8");
const withMemory = (text: string) => text.replace("    flows:", "    flowMemory: { timeout: 60s }\n    flows:");
const withoutD = (text: string) => text.replace(/\n      - \{ name: target-d[^\n]*/, "");

/** Elements remembered in a flow set, counted from a full listing. */
function remembered(ns: string): number {
  const r = cli(["lb", "show", "stream-a", "--netns", ns, "--json"]);
  const view = JSON.parse(r.stdout) as { targets: { remembered?: number }[] };
  return view.targets.reduce((n, t) => n + (t.remembered ?? 0), 0);
}

describe.skipIf(!isRoot)("flow memory", () => {
  const lab = new Lab("fm");
  const sports = Array.from({ length: 400 }, (_, i) => 30000 + i * 3);

  beforeAll(async () => {
    await buildLoadBalancer(lab);
  });
  afterAll(async () => {
    cli(["destroy", "--netns", lab.ns("fe")]);
    await lab.teardown();
  });

  const apply = (text: string, name: string) => {
    const r = cli(["apply", configFile(text, name), "--netns", lab.ns("fe"), "--json"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    return JSON.parse(r.stdout) as { plan: { nft: { action: string } } };
  };

  it("without memory, adding a target moves flows of the others (Maglev's collateral): the baseline", async () => {
    apply(withoutD(base), "stateless-3.yaml");
    const before = await probe(lab, { vip: LB.vip4, port: LB.tcpPort, sports });
    apply(base, "stateless-4.yaml");
    const after = await probe(lab, { vip: LB.vip4, port: LB.tcpPort, sports });
    const toD = after.filter((t, i) => t === "target-d" && before[i] !== "target-d").length;
    const collateral = after.filter((t, i) => t !== "target-d" && t !== before[i]).length;
    console.log(`stateless maglev, target-d added: ${toD} of 400 flows moved to it, ${collateral} moved between the others`);
    expect(toD).toBeGreaterThan(60);
    expect(after.filter((t) => t === null)).toEqual([]);
    cli(["destroy", "--netns", lab.ns("fe")]);
  });

  /** UDP flows: the same 4-tuple again is the same flow; the answer is the target's name. */
  const udp = async (vip: string, ports: number[]) => (await probe(lab, { vip, port: LB.udpPort, sports: ports, proto: "udp" })).map((r) => r?.split(" ")[0] ?? null);

  it("with memory, adding then removing a target moves no established flow of the others, IPv4 and IPv6", async () => {
    apply(withMemory(withoutD(base)), "memory-3.yaml");
    const before4 = await udp(LB.vip4, sports);
    const before6 = await udp(LB.vip6, sports);
    expect(before4.filter((t) => t === null)).toEqual([]);
    expect(remembered(lab.ns("fe"))).toBe(800);
    // trace reads the memory: a remembered flow is served from it, an unseen one by the table
    const traced = (sport: number) => cli(["trace", "--netns", lab.ns("fe"), "--from", LB.client.v4, "--to", LB.vip4, "--proto", "udp", "--sport", String(sport), "--dport", String(LB.udpPort), "--iif", "ext-vlan0"]).stdout;
    expect(traced(sports[0])).toContain(`served from flow memory: the flow is remembered on target ${before4[0]}`);
    expect(traced(65000)).toContain("flow memory: not remembered, so the Maglev table decides");

    // target-d joins: an in-place update, the memory survives; no remembered flow moves, new flows reach target-d
    const added = apply(withMemory(base), "memory-4.yaml");
    expect(added.plan.nft.action).toBe("update");
    expect(remembered(lab.ns("fe"))).toBe(800);
    const after4 = await udp(LB.vip4, sports);
    const after6 = await udp(LB.vip6, sports);
    expect(after4).toEqual(before4);
    expect(after6).toEqual(before6);
    const fresh = await udp(LB.vip4, sports.map((p) => p + 1));
    expect(fresh.filter((t) => t === "target-d").length, "new flows reach the new target").toBeGreaterThan(60);

    // target-d leaves again: its flows move, nobody else's does
    const removed = apply(withMemory(withoutD(base)), "memory-3b.yaml");
    expect(removed.plan.nft.action).toBe("update");
    const again = await udp(LB.vip4, sports.map((p) => p + 1));
    const moved = again.filter((t, i) => fresh[i] !== "target-d" && t !== fresh[i]).length;
    expect(moved, "flows of the remaining targets moved").toBe(0);
    expect(again.filter((t) => t === "target-d" || t === null)).toEqual([]);
  });
});
