/**
 * `symroute lab scale-out` (issue 13): three frontends announce the VIP by BGP
 * to an ECMP router; 400 long-lived TCP flows run while one frontend dies
 * (dropped off the network and SIGKILLed: BFD at the router withdraws it), is
 * restarted (it announces only once its ruleset is loaded and a target
 * answered), and a fourth is added. For each event the lab prints the
 * router's convergence time and the flows broken; for the restart also the
 * new connections refused.
 */
import type { Lab } from "./lab.js";
import type { Say } from "./story.js";
import { destroyIn, sleep } from "./story.js";
import { buildScaleOut, darken, FrontendDaemon, relight, routerNextHops, SCALE, untilNextHops } from "./scaleOut.js";
import { broken, FlowDriver, type FlowStatus } from "./flowDriver.js";

const FLOWS = 400;

/** One event's outcome. */
export interface ScaleEvent {
  event: string;
  convergeMs: number | null;
  broken: number;
  refused: number | null;
}

/** Runs the story; `events` receives the figures (for tests and the bench). */
export async function scaleOutStory(lab: Lab, say: Say, events: ScaleEvent[] = []): Promise<boolean> {
  say("== scale-out: three frontends announce the VIP by BGP to an ECMP router; one dies, comes back, a fourth joins ==");
  say(`building namespaces ${lab.prefix}-{cl,rt,bk,fe1..fe4,t1..t4}; the router runs BIRD 2 (eBGP + BFD 100 ms x 3, merge paths, L4 hash)`);
  const scale = await buildScaleOut(lab, 4);
  const daemons = new Map<string, FrontendDaemon>();
  const hop = (n: number) => SCALE.frontends[n - 1].up;
  let held = true;
  const check = (ok: boolean, line: string) => {
    say(`  ${ok ? "OK  " : "FAIL"}  ${line}`);
    held &&= ok;
  };
  const driver = new FlowDriver(lab, "cl", SCALE.vip, SCALE.port);
  let counted = new Set<number>();
  /** flows newly broken since the last call */
  const newlyBroken = (st: FlowStatus) => {
    const now = st.flows.map((f, i) => (broken(f, st.now) ? i : -1)).filter((i) => i >= 0 && !counted.has(i));
    for (const i of now) counted.add(i);
    return now.length;
  };
  try {
    say("symroute run in fe1, fe2, fe3 (each starts its own BIRD; VIP announced once its ruleset is loaded and a target answered)");
    for (const n of [1, 2, 3]) daemons.set(`fe${n}`, new FrontendDaemon(lab, `fe${n}`, n, scale.dir));
    const upMs = await untilNextHops(lab, (h) => h.length === 3, 20_000);
    check(upMs !== null, `router: ${SCALE.vip} by ECMP over ${(await routerNextHops(lab)).join(", ")} ${upMs === null ? "(not 3 next hops within 20 s)" : `after ${upMs} ms`}`);
    if (upMs === null) return false;

    driver.send(`open ${FLOWS}`);
    let st = await driver.status();
    const settled = await (async () => {
      for (let i = 0; i < 100; i++) {
        st = await driver.status();
        if (st.flows.length === FLOWS && st.flows.every((f) => f.replies >= 2)) return true;
        await sleep(100);
      }
      return false;
    })();
    const byTarget = new Map<string, number>();
    for (const f of st.flows) byTarget.set(f.target ?? "none", (byTarget.get(f.target ?? "none") ?? 0) + 1);
    check(settled, `client: ${st.flows.length} flows to ${SCALE.vip}:${SCALE.port}, a line every 200 ms each; targets ${[...byTarget].sort().map(([t, n]) => `${t} ${n}`).join(", ")}`);
    counted = new Set(st.flows.map((f, i) => (broken(f, st.now) ? i : -1)).filter((i) => i >= 0));

    const report = async (event: string, convergeMs: number | null, refused: number | null) => {
      await sleep(2500);
      st = await driver.status();
      const n = newlyBroken(st);
      events.push({ event, convergeMs, broken: n, refused });
      return n;
    };

    // 1. fe1 dies
    say("fe1 dies: everything in and out of it dropped (its session's FIN too), symroute and its BIRD SIGKILLed");
    let t0 = Date.now();
    await darken(lab, "fe1");
    await daemons.get("fe1")!.kill("SIGKILL");
    const lostMs = await untilNextHops(lab, (h) => !h.includes(hop(1)) && h.length === 2, 10_000, t0);
    const b1 = await report("frontend lost", lostMs, null);
    check(lostMs !== null && lostMs < 1000, `router withdrew fe1 in ${lostMs ?? "(not within 10 s)"} ms (BFD 100 ms x 3)`);
    check(b1 === 0, `${b1} of ${FLOWS} flows broken (fe1's flows moved to fe2/fe3, which hash them to the same targets)`);
    // the machine reboots: its kernel comes back empty
    await destroyIn(lab, "fe1");

    // 2. fe1 restarts
    say("fe1 restarts: its network back, its ruleset gone (as after a reboot); symroute run again; new connections every 20 ms meanwhile");
    await relight(lab, "fe1");
    driver.send("probe");
    t0 = Date.now();
    daemons.set("fe1", new FrontendDaemon(lab, "fe1", 1, scale.dir));
    const backMs = await untilNextHops(lab, (h) => h.includes(hop(1)) && h.length === 3, 20_000, t0);
    await sleep(1500);
    driver.send("stop");
    st = await driver.status();
    const refused = st.attempts.filter((a) => !a.ok).length;
    const b2 = await report("frontend restarted", backMs, refused);
    check(backMs !== null, `router: fe1 back in ECMP ${backMs ?? "(not within 20 s)"} ms after symroute run started`);
    check(refused === 0, `new connections: ${refused} of ${st.attempts.length} refused (fe1 announced only once ready)`);
    check(b2 === 0, `${b2} of ${FLOWS} flows broken (flows rehashed to fe1 land on the same targets)`);

    // 3. fe4 joins
    say("fe4 joins: symroute run in fe4");
    t0 = Date.now();
    daemons.set("fe4", new FrontendDaemon(lab, "fe4", 4, scale.dir));
    const addMs = await untilNextHops(lab, (h) => h.length === 4, 20_000, t0);
    const b3 = await report("frontend added", addMs, null);
    check(addMs !== null, `router: ECMP over 4 frontends ${addMs ?? "(not within 20 s)"} ms after symroute run started`);
    check(b3 === 0, `${b3} of ${FLOWS} flows broken`);

    say("summary (event: router convergence, flows broken of 400, new connections refused):");
    for (const e of events) say(`  ${e.event.padEnd(20)} ${String(e.convergeMs ?? "-").padStart(6)} ms  ${String(e.broken).padStart(3)} broken${e.refused === null ? "" : `  ${e.refused} refused`}`);
    return held;
  } finally {
    driver.stop();
    // SIGTERM: each frontend withdraws, waits for the router, stops its BIRD
    await Promise.all([...daemons.values()].map((d) => d.kill("SIGTERM")));
    const outputs = [...daemons].filter(([, d]) => !held && /"level":50/.test(d.output()));
    for (const [name, d] of outputs) say(`  ${name} errors: ${d.output().split("\n").filter((l) => l.includes('"level":50')).slice(-3).join(" | ")}`);
    for (const n of [1, 2, 3, 4]) await destroyIn(lab, `fe${n}`).catch(() => undefined);
  }
}
