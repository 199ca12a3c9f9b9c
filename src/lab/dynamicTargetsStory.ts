/**
 * The second half of `symroute lab load-balancer` (issue 12): targets that come
 * and go under `symroute run`, with 400 long-lived flows running throughout.
 * A target's server is killed: its check fails, it leaves the table, its own
 * flows stop and nobody else's is touched; it comes back. Then, with flow
 * memory, a fourth target registers while the flows run: none of them moves,
 * and new flows reach it.
 */
import { rmSync } from "node:fs";
import type { Lab } from "./lab.js";
import { LB, probe, startTargetServer } from "./loadBalancer.js";
import type { BackgroundProcess } from "../kernel/background.js";
import { FlowDriver, broken, type FlowStatus } from "./flowDriver.js";
import { examplePath } from "./examples.js";
import { loader, sleep, until, type Say } from "./story.js";
import { Daemon } from "../daemon/daemon.js";
import { readFileSync } from "node:fs";
import { registrationsPath } from "../engine/index.js";

/** Each target's flows: how many, and how many broke. */
function byTarget(st: FlowStatus): Map<string, { flows: number; broken: number }> {
  const out = new Map<string, { flows: number; broken: number }>();
  for (const f of st.flows) {
    const name = f.target ?? "(none)";
    const row = out.get(name) ?? { flows: 0, broken: 0 };
    row.flows += 1;
    if (broken(f, st.now)) row.broken += 1;
    out.set(name, row);
  }
  return out;
}

/** Opens `n` long-lived flows and waits until each has its first answer. */
async function openFlows(lab: Lab, n: number): Promise<FlowDriver> {
  const driver = new FlowDriver(lab, "tg", LB.vip4, LB.streamPort);
  driver.send(`open ${n}`);
  await until(async () => (await driver.status()).flows.filter((f) => f.target !== null).length >= n, 10_000, 100);
  return driver;
}

/** Runs the half; true when every claim held. `servers` are the targets' server processes. */
export async function dynamicTargetsStory(lab: Lab, servers: Map<string, BackgroundProcess>, say: Say): Promise<boolean> {
  const file = examplePath("load-balancer-dynamic.yaml");
  say("");
  say("== targets that come and go: health checks, flow memory, registration (symroute run) ==");
  say(`symroute run ${file} (in-process, in ${lab.ns("fe")}): targets a, b, c checked by TCP, HTTP and a command through their conduits; flow memory on`);
  rmSync(registrationsPath(lab.ns("fe")), { force: true });
  const daemon = new Daemon({ netns: lab.ns("fe"), load: loader(readFileSync(file, "utf8"), file), reconcileIntervalMs: 30_000, debounceMs: 20 });
  let held = true;
  const check = (ok: boolean, line: string) => {
    say(`  ${ok ? "OK  " : "FAIL"}  ${line}`);
    held &&= ok;
  };
  let driver: FlowDriver | null = null;
  try {
    const first = await daemon.start();
    say(`  first apply: ${first.error ?? first.summary ?? "no changes"} (${first.durationMs} ms)`);
    const upMs = await until(() => daemon.targetHealth().length === 3 && daemon.targetHealth().every((t) => t.state === "up"), 5000, 20);
    check(upMs !== null, "three targets up by their checks");

    say(`400 long-lived TCP flows to ${LB.vip4}:${LB.streamPort} (a line every 200 ms each, answered by the target's name)`);
    driver = await openFlows(lab, 400);
    const start = byTarget(await driver.status());
    say(`  ${[...start].sort().map(([t, r]) => `${t} ${r.flows}`).join(", ")}`);

    // target-b's server dies (kill -9): its check fails, it leaves the table
    const t0 = Date.now();
    const pid = servers.get("target-b")?.pid;
    if (pid) process.kill(pid, "SIGKILL");
    say("target-b's server killed (SIGKILL):");
    const downMs = await until(() => daemon.snapshot().targetsDown.includes("stream-a/target-b"), 5000, 10);
    const outMs = await until(() => daemon.snapshot().lastReconcile?.reason === "target stream-a/target-b down" && !daemon.snapshot().lastReconcile?.error, 5000, 10);
    check(downMs !== null, `target-b down by its HTTP check ${downMs ?? "?"} ms after the kill, out of the table at ${outMs === null ? "?" : Date.now() - t0} ms`);
    await sleep(1500);
    const afterKill = byTarget(await driver.status());
    const othersBroken = [...afterKill].filter(([t]) => t !== "target-b").reduce((n, [, r]) => n + r.broken, 0);
    check(othersBroken === 0, `flows of target-a and target-c broken: ${othersBroken} of ${[...afterKill].filter(([t]) => t !== "target-b").reduce((n, [, r]) => n + r.flows, 0)}`);
    say(`        target-b's own ${afterKill.get("target-b")?.flows ?? 0} flows ended with its process (${afterKill.get("target-b")?.broken ?? 0} broken)`);
    // below the kernel's ephemeral range (32768-60999): the long-lived flows hold ports there, and a probe bound to one of them would fail
    const sports = Array.from({ length: 200 }, (_, i) => 11000 + i * 5);
    const fresh = await probe(lab, { vip: LB.vip4, port: LB.tcpPort, sports });
    check(!fresh.includes("target-b") && !fresh.includes(null), `200 new connections: none to target-b, all answered (${["target-a", "target-c"].map((t) => `${t} ${fresh.filter((x) => x === t).length}`).join(", ")})`);

    // it comes back
    servers.set("target-b", startTargetServer(lab, LB.targets[1]));
    const backMs = await until(() => !daemon.snapshot().targetsDown.includes("stream-a/target-b"), 5000, 10);
    await sleep(300);
    const again = await probe(lab, { vip: LB.vip4, port: LB.tcpPort, sports: sports.map((p) => p + 1) });
    check(backMs !== null && again.includes("target-b"), `target-b restarted: up ${backMs ?? "?"} ms later, new connections reach it again (${again.filter((x) => x === "target-b").length} of 200)`);
    driver.stop();

    // flow memory: a fourth target registers while 400 flows run
    say("400 new long-lived flows; then target-d registers (symroute lb target add stream-a target-d ...):");
    driver = await openFlows(lab, 400);
    const t1 = Date.now();
    await daemon.registerTarget("stream-a", { name: "target-d", via: "172.16.1.8", via6: "fd00:0:0:1::8", interface: "conduit-b", check: { tcp: LB.tcpPort } });
    const registeredMs = Date.now() - t1;
    // a checked target that joins takes traffic once its check passes
    const joinedMs = await until(async () => ((await daemon.balancers())[0]?.targets.find((t) => t.name === "target-d")?.entries ?? 0) > 0, 5000, 25);
    check(joinedMs !== null, `registered in ${registeredMs} ms; in the table once its TCP check passed twice, ${joinedMs === null ? "?" : registeredMs + joinedMs} ms after the request`);
    await sleep(1500);
    const st = await driver.status();
    const moved = st.flows.filter((f) => f.moved).length;
    const brokenNow = st.flows.filter((f) => broken(f, st.now)).length;
    check(moved === 0 && brokenNow === 0, `of the 400 running flows ${moved} moved to another target, ${brokenNow} broke (flow memory: each remembered on its target)`);
    const later = await probe(lab, { vip: LB.vip4, port: LB.tcpPort, sports: sports.map((p) => p + 2) });
    check(later.includes("target-d"), `new connections reach target-d: ${later.filter((x) => x === "target-d").length} of 200`);
    const views = await daemon.balancers();
    const remembered = views[0]?.targets.reduce((n, t) => n + (t.remembered ?? 0), 0) ?? 0;
    say(`  the kernel remembers ${remembered} flows (symroute lb show stream-a)`);
    return held;
  } finally {
    driver?.stop();
    await daemon.stop(true);
    rmSync(registrationsPath(lab.ns("fe")), { force: true });
  }
}
