/**
 * Load-balancer targets that die (issue 12, item 1), with the daemon as a
 * process: each target checked by a TCP connect through its conduit; a target
 * whose host stops answering leaves the Maglev table in one in-place change
 * (stable assignment: no flow of another target moves), and returns when it
 * answers again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { callDaemon } from "../../src/daemon/client.js";
import { Lab } from "../../src/lab/lab.js";
import { buildLoadBalancer, LB, probe, targetHost } from "../../src/lab/loadBalancer.js";
import { examplePath } from "../../src/lab/examples.js";
import { cli, configFile, isRoot, killDaemon, startDaemon, type CliRun } from "../helpers/kernel.js";
import { until } from "../helpers/until.js";

/** Each checked target's rounds so far, from GET /v1/balancers. */
async function rounds(netns: string): Promise<number[]> {
  const answer = await callDaemon("GET", "/v1/balancers", netns);
  const balancers = (answer?.body.balancers ?? []) as { targets: { health: { rounds?: number } | null }[] }[];
  return balancers.flatMap((b) => b.targets.map((t) => t.health?.rounds ?? 0));
}

/**
 * True once a reconcile for this reason changed the kernel: the last repair, not the last reconcile, which the
 * reconcile's own nft events follow within milliseconds (a poll would miss it).
 */
const reconciled = async (netns: string, reason: string) => {
  const last = (await status(netns)).daemon.lastRepair;
  return !!last && last.reason.includes(reason) && last.error === null;
};

const CHECK_PORT = 4001;
const config = readFileSync(examplePath("load-balancer.yaml"), "utf8")
  .replace("    flows:", "    assignment: stable\n    flows:")
  .replace(/interface: (conduit-[ab]) \}/g, `interface: $1, check: { tcp: ${CHECK_PORT} } }`)
  .concat('daemon:\n  metrics: "off"\n');

/** The daemon's status over its socket (the CLI's own client). */
async function status(netns: string): Promise<{ daemon: { targetsDown: string[]; lastRepair: { reason: string; error: string | null } | null } }> {
  const answer = await callDaemon("GET", "/v1/status", netns);
  if (!answer) throw new Error(`no daemon answers for ${netns}`);
  return answer.body as { daemon: { targetsDown: string[] } };
}

describe.skipIf(!isRoot)("target health checks", () => {
  const lab = new Lab("th");
  let daemon: CliRun | undefined;
  const sports = Array.from({ length: 400 }, (_, i) => 20000 + i * 7);

  beforeAll(async () => {
    await buildLoadBalancer(lab);
    // the check's listener on each target's own address, reached through its conduit
    for (const t of LB.targets) lab.background(targetHost(t.name), ["socat", `TCP-LISTEN:${CHECK_PORT},bind=${t.v4},fork,reuseaddr`, "EXEC:cat"]);
    expect(config).toContain(`check: { tcp: ${CHECK_PORT} }`);
    daemon = await startDaemon([configFile(config, "lb.yaml"), "--netns", lab.ns("fe")]);
  });
  afterAll(async () => {
    killDaemon(daemon);
    cli(["destroy", "--netns", lab.ns("fe")]);
    await lab.teardown();
  });

  it("a dead target leaves the table within 1.5 s and no other target's flow moves; it returns when it answers", async () => {
    const ns = lab.ns("fe");
    await until("three rounds of every target's check", async () => (await rounds(ns)).every((n) => n >= 3), 5000);
    expect((await status(ns)).daemon.targetsDown).toEqual([]);
    const before = await probe(lab, { vip: LB.vip4, port: LB.tcpPort, sports });
    expect(before.filter((x) => x === "target-d").length).toBeGreaterThan(50);
    // target-d's host stops answering anything (as a crashed machine)
    const t0 = Date.now();
    await lab.nft(targetHost("target-d"), [
      { add: { table: { family: "inet", name: "dead" } } },
      { add: { chain: { family: "inet", table: "dead", name: "in", type: "filter", hook: "input", prio: -400, policy: "drop" } } },
    ]);
    let detected = 0;
    for (let i = 0; i < 100; i++) {
      if ((await status(ns)).daemon.targetsDown.includes("stream-a/target-d")) {
        detected = Date.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(detected, "target-d marked down").toBeGreaterThan(0);
    console.log(`target-d down ${detected} ms after it stopped answering`);
    expect(detected).toBeLessThan(1500);
    await until("the reconcile that takes target-d out of the table", () => reconciled(ns, "target stream-a/target-d down"), 2000);
    const after = await probe(lab, { vip: LB.vip4, port: LB.tcpPort, sports });
    expect(after.filter((x) => x === "target-d")).toEqual([]);
    const moved = before.filter((b, i) => b !== "target-d" && after[i] !== b).length;
    expect(moved, "flows of the other targets moved").toBe(0);
    expect(after.filter((x) => x === null)).toEqual([]);
    expect(daemon!.output()).toContain('"msg":"target down"');
    // it answers again: back in the table
    await lab.exec(targetHost("target-d"), ["nft", "delete", "table", "inet", "dead"]);
    for (let i = 0; i < 100 && (await status(ns)).daemon.targetsDown.length > 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect((await status(ns)).daemon.targetsDown).toEqual([]);
    await until("the reconcile that brings target-d back", () => reconciled(ns, "target stream-a/target-d up"), 2000);
    const back = await probe(lab, { vip: LB.vip4, port: LB.tcpPort, sports });
    expect(back.filter((x) => x === "target-d").length).toBeGreaterThan(50);
    expect(back.filter((x) => x === null)).toEqual([]);
  });
});
