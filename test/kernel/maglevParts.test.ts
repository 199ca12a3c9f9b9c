/**
 * A Maglev table larger than one named map holds (MAP_CHUNK entries) is split
 * into maps behind a range lookup. In real namespaces: every connection lands
 * on the target the simulator computes from the whole table, for IPv4 and
 * IPv6, before and after a target is removed in place.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { Lab } from "../../src/lab/lab.js";
import { buildLoadBalancer, LB, probe } from "../../src/lab/loadBalancer.js";
import { examplePath } from "../../src/lab/examples.js";
import { cli, configFile, isRoot } from "../helpers/kernel.js";
import { loadConfigText } from "../../src/config/load.js";
import { compile, NFT_TABLE } from "../../src/compile/index.js";
import { MAP_CHUNK } from "../../src/compile/loadBalancers.js";
import { balancerTarget } from "../../src/simulate/balancer.js";

const SIZE = 9973;
const sports = Array.from({ length: 300 }, (_, i) => 21000 + i * 11);

function predicted(text: string, family: 4 | 6): (string | null)[] {
  const loaded = loadConfigText(text, "lb.yaml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  const info = compile(loaded.value, { links: {}, rpFilter: {} }).desired.balancers![0];
  const [src, vip] = family === 4 ? [LB.client.v4, LB.vip4] : [LB.client.v6, LB.vip6];
  return sports.map((sport) => balancerTarget(info, src, vip, { sport, dport: LB.tcpPort })?.target.name ?? null);
}

describe.skipIf(!isRoot)("a Maglev table split over several maps", () => {
  const lab = new Lab("tm");
  const big = readFileSync(examplePath("load-balancer.yaml"), "utf8").replace("    flows:", `    maglev: { size: ${SIZE} }\n    flows:`);
  const fe = () => lab.ns("fe");

  beforeAll(async () => {
    await buildLoadBalancer(lab);
  });
  afterAll(async () => {
    cli(["destroy", "--netns", fe()]);
    await lab.teardown();
  });

  it("lands every connection where the whole table says, IPv4 and IPv6", async () => {
    const a = cli(["apply", configFile(big), "--netns", fe()]);
    expect(a.code, a.stderr).toBe(0);
    const maps = await lab.exec("fe", ["nft", "-t", "list", "maps", "inet"]);
    expect(maps.stdout.match(/map lb0_m4_\d+/g)).toHaveLength(Math.ceil(SIZE / MAP_CHUNK));
    expect(await probe(lab, { vip: LB.vip4, port: LB.tcpPort, sports })).toEqual(predicted(big, 4));
    expect(await probe(lab, { vip: LB.vip6, port: LB.tcpPort, sports: sports.slice(0, 60) })).toEqual(predicted(big, 6).slice(0, 60));
  });

  it("removes a target in place across the maps, and connections follow the new table", async () => {
    const without = big.replace(/\n      - \{ name: target-d[^\n]*/, "");
    const plan = cli(["plan", configFile(without), "--netns", fe()]);
    expect(plan.stdout).toMatch(/~ nft table inet symroute \(load-balancer targets: 1 target chains and \d+ Maglev entries change\)/);
    const a = cli(["apply", configFile(without), "--netns", fe()]);
    expect(a.code, a.stderr).toBe(0);
    const after = await probe(lab, { vip: LB.vip4, port: LB.tcpPort, sports });
    expect(after).toEqual(predicted(without, 4));
    expect(after).not.toContain("target-d");
    const listed = await lab.exec("fe", ["nft", "list", "table", "inet", NFT_TABLE]);
    expect(listed.stdout).not.toMatch(/target-d/);
  });
});
