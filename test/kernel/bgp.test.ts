/**
 * Issue 13 with a real BIRD 2: a router (BIRD, ECMP, BFD) and two frontends
 * running `symroute run`. A frontend announces its VIP only once its ruleset is
 * loaded and a target answered; withdraws when no target answers; withdraws
 * on SIGTERM before it exits; and a frontend that dies (dropped off the
 * network, SIGKILLed) is withdrawn by BFD at the router within a second.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { Lab } from "../../src/lab/lab.js";
import { buildScaleOut, darken, frontendConfig, routerNextHops, SCALE, untilNextHops, type ScaleLab } from "../../src/lab/scaleOut.js";
import { birdc, birdPaths } from "../../src/kernel/bird.js";
import { existsSync, readFileSync } from "node:fs";
import { cli, configFile, isRoot, killDaemon, startDaemon, type CliRun } from "../helpers/kernel.js";

const hasBird = spawnSync("bird", ["--version"], { encoding: "utf8" }).status === 0;
if (isRoot && !hasBird) console.log("skipped: bird2 not installed (apt-get install bird2, or scripts/setup.sh)");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hop = (n: number) => SCALE.frontends[n - 1].up;

/** Every target refuses (or again accepts) the port the frontends check. */
async function targetsAnswer(lab: Lab, answer: boolean): Promise<void> {
  for (const t of SCALE.targets) {
    if (answer) await lab.exec(t.name, ["nft", "delete", "table", "inet", "block"], undefined, true);
    else
      await lab.nft(t.name, [
        { add: { table: { family: "inet", name: "block" } } },
        { add: { chain: { family: "inet", table: "block", name: "in", type: "filter", hook: "input", prio: -10, policy: "accept" } } },
        { add: { rule: { family: "inet", table: "block", chain: "in", expr: [{ match: { op: "==", left: { payload: { protocol: "tcp", field: "dport" } }, right: SCALE.port } }, { drop: null }] } } },
      ]);
  }
}

describe.skipIf(!isRoot || !hasBird)("BGP announcements through BIRD 2", () => {
  const lab = new Lab("bg", "sb");
  let scale: ScaleLab;
  const daemons: CliRun[] = [];

  beforeAll(async () => {
    scale = await buildScaleOut(lab, 2);
  }, 30_000);
  afterAll(async () => {
    daemons.forEach(killDaemon);
    for (const n of [1, 2]) cli(["destroy", "--netns", lab.ns(`fe${n}`)]);
    await lab.teardown();
  });

  it("announces only when ready, withdraws when no target answers, on SIGTERM and (by BFD) when a frontend dies", async () => {
    // no target answers: the session comes up, the ruleset is applied, yet nothing is announced
    await targetsAnswer(lab, false);
    const fe1 = await startDaemon([configFile(frontendConfig(1)), "--netns", lab.ns("fe1")]);
    daemons.push(fe1);
    const established = async () => /^fe1\s+BGP.*Established/m.test((await birdc(scale.routerSocket, ["show", "protocols"])).out);
    for (let i = 0; i < 100 && !(await established()); i++) await sleep(50);
    expect(await established()).toBe(true);
    await sleep(1000);
    expect(await routerNextHops(lab)).toEqual([]);
    expect(fe1.output()).not.toContain("bgp announcements");

    // a target answers: announced
    const t0 = Date.now();
    await targetsAnswer(lab, true);
    const announceMs = await untilNextHops(lab, (h) => h.includes(hop(1)), 5000, t0);
    console.log(`announce: router route ${announceMs} ms after a target answered`);
    expect(announceMs).not.toBeNull();
    const fe2 = await startDaemon([configFile(frontendConfig(2)), "--netns", lab.ns("fe2")]);
    daemons.push(fe2);
    expect(await untilNextHops(lab, (h) => h.length === 2, 10_000)).not.toBeNull();
    expect(await routerNextHops(lab)).toEqual([hop(1), hop(2)]);
    const ok = await lab.exec("cl", ["socat", "-", `TCP:${SCALE.vip}:${SCALE.port},connect-timeout=1`], "x\n", true);
    expect(ok.stdout).toMatch(/^t[1-4]$/m);

    // no target answers: both withdraw (3 failed checks at 100 ms), the router has no route left
    const t1 = Date.now();
    await targetsAnswer(lab, false);
    const goneMs = await untilNextHops(lab, (h) => h.length === 0, 5000, t1);
    console.log(`no healthy target: withdrawn ${goneMs} ms after the targets stopped answering`);
    expect(goneMs).not.toBeNull();
    expect(goneMs!).toBeLessThan(2000);
    await targetsAnswer(lab, true);
    expect(await untilNextHops(lab, (h) => h.length === 2, 5000)).not.toBeNull();

    // SIGTERM: fe2 withdraws and waits for it before it exits; the router has dropped it by then
    fe2.child.kill("SIGTERM");
    const end = await fe2.done;
    expect(end.code).toBe(0);
    expect(await routerNextHops(lab)).toEqual([hop(1)]);
    expect(fe2.output()).toContain('"msg":"bgp withdrawn"');

    // fe1 dies: dropped off the network, SIGKILLed (its BIRD dies with it); BFD at the router withdraws it
    const t2 = Date.now();
    await darken(lab, "fe1");
    fe1.child.kill("SIGKILL");
    const bfdMs = await untilNextHops(lab, (h) => h.length === 0, 5000, t2);
    console.log(`SIGKILL: the router withdrew the dead frontend after ${bfdMs} ms (BFD 100 ms x 3)`);
    expect(bfdMs).not.toBeNull();
    expect(bfdMs!).toBeLessThan(1000);
    // its BIRD did not outlive it
    await sleep(200);
    const pid = Number(readFileSync(birdPaths(lab.ns("fe1")).pidFile, "utf8").trim());
    expect(pid).toBeGreaterThan(0);
    // gone, or a zombie where nothing reaps orphans (a container's init)
    const state = existsSync(`/proc/${pid}/status`) ? /State:\s+(\S)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] : "gone";
    expect(["gone", "Z", "X"]).toContain(state);
  }, 60_000);
});
