/**
 * The daemon's children (issue 17, items 8 and 9), as processes in namespaces
 * of the test's own ("hc…"): a command check that times out takes its whole
 * process group with it; 64 TCP-checked targets cost one prober process whose
 * results still flip up and down as listeners come and go; and a `symroute
 * run` killed with SIGKILL leaves none of its monitors, probers or check
 * commands behind.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { Lab } from "../../src/lab/lab.js";
import { runProcess } from "../../src/kernel/runner.js";
import { ProbedHealth } from "../../src/daemon/probedHealth.js";
import { CheckProber } from "../../src/kernel/checkProber.js";
import { startUplinkProbes, type UplinkProbes, type UplinkRound } from "../../src/kernel/prober.js";
import type { CheckSettings } from "../../src/daemon/health.js";
import { buildTwoLinkHost, cli, configFile, isRoot, killDaemon, startDaemon, type CliRun } from "../helpers/kernel.js";
import { until } from "../helpers/until.js";
import { descendants, processes } from "../helpers/processes.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Live processes whose command line holds `marker`. */
const marked = (marker: string) => processes().filter((p) => p.cmdline.includes(marker) && !p.cmdline.includes("pgrep"));

describe.skipIf(!isRoot)("the daemon's children", () => {
  const lab = new Lab("ch", "hc");
  const marker = `30.${randomBytes(3).readUIntBE(0, 3)}`;
  let probes: UplinkProbes | null = null;
  let health: ProbedHealth | null = null;

  beforeAll(async () => {
    await lab.addHosts("p");
  });
  afterAll(async () => {
    await probes?.stop();
    await health?.stop();
    await lab.teardown();
    for (const p of marked(marker)) process.kill(p.pid, "SIGKILL");
  });

  it("a command check that times out leaves none of its processes behind", async () => {
    // sleeps far longer than the timeout, one of them in the background: the shell's group must go, not only the shell
    const check: CheckSettings = {
      targets: ["192.0.2.10"],
      method: { kind: "command", argv: ["sh", "-c", `sleep ${marker} & sleep ${marker}`], env: {} },
      intervalMs: 200,
      timeoutMs: 100,
      down: 2,
      up: 2,
      holdMs: 0,
    };
    const rounds: UplinkRound[] = [];
    probes = startUplinkProbes({ netns: lab.ns("p"), uplink: "cmd", source4: "127.0.0.1", check }, (r) => rounds.push(r));
    let most = 0;
    await until("8 rounds", () => {
      most = Math.max(most, marked(marker).length);
      return rounds.length >= 8;
    }, 10_000);
    await probes.stop();
    probes = null;
    await sleep(200);
    const left = marked(marker);
    console.log(`command check: ${rounds.length} rounds, at most ${most} of its processes at once, ${left.length} left after stop`);
    expect(rounds.slice(1).every((r) => !r.results[0].ok && r.results[0].error === "timeout"), JSON.stringify(rounds.slice(0, 3))).toBe(true);
    expect(left.map((p) => p.cmdline)).toEqual([]);
    // one probe in flight at a time: the shell and its two sleeps, never the leftovers of earlier probes
    expect(most).toBeLessThanOrEqual(3);
  }, 30_000);

  it("64 TCP-checked targets run in one prober process, and flip up and down with their listeners", async () => {
    const ns = lab.ns("p");
    const ports = Array.from({ length: 64 }, (_, i) => 21000 + i);
    const even = ports.filter((_, i) => i % 2 === 0);
    const odd = ports.filter((_, i) => i % 2 === 1);
    const listen = (which: number[]) =>
      lab.background("p", [process.execPath, "-e", `for (const p of ${JSON.stringify(which)}) require("node:net").createServer((s) => s.destroy()).listen(p, "127.0.0.1"); // hclisten`]);
    const evens = listen(even);
    await sleep(300);
    const down = () => [...health!.down()].map((k) => Number(k.split("/")[1])).sort((a, b) => a - b);
    const seen: string[] = [];
    health = new ProbedHealth(ns, (key, t) => seen.push(`${key} ${t.to}`));
    await health.sync(ports.map((port) => ({
      key: `lb/${port}`,
      settings: { targets: ["127.0.0.1"], method: { kind: "tcp", port }, intervalMs: 200, timeoutMs: 100, down: 2, up: 2, holdMs: 0 },
      sources: { source4: "127.0.0.1", source6: null },
    })));
    const t1 = await until("the odd ports down, the even ones up", () => JSON.stringify(down()) === JSON.stringify(odd), 8000, () => JSON.stringify(down()));
    // what runs in the namespace besides the listener: the probers
    // asked from the host: `lab.exec` would run `ip netns pids` inside the namespace, where it counts itself
    const inNs = (await runProcess(["ip", "netns", "pids", ns])).stdout.split("\n").map(Number).filter((n) => n > 0);
    const probers = processes().filter((p) => inNs.includes(p.pid) && !p.cmdline.includes("hclisten"));
    console.log(`64 targets: ${probers.length} prober process(es), odd ports down after ${t1} ms`);
    expect(probers.length).toBe(1);
    expect(health.views().every((v) => v.processes === 1)).toBe(true);

    // the listeners swap: the odd ports answer, the even ones refuse
    listen(odd);
    await evens.stop();
    const t2 = await until("the even ports down, the odd ones up", () => JSON.stringify(down()) === JSON.stringify(even), 8000, () => JSON.stringify(down()));
    console.log(`swapped listeners: even ports down, odd up after ${t2} ms`);
    expect(seen.filter((s) => s.endsWith(" up")).length).toBe(32);
    expect(seen.filter((s) => s.endsWith(" down")).length).toBe(64);
    await health.stop();
    health = null;
    const after = (await runProcess(["ip", "netns", "pids", ns])).stdout.split("\n").map(Number).filter((n) => n > 0);
    expect(processes().filter((p) => after.includes(p.pid) && !p.cmdline.includes("hclisten"))).toEqual([]);
  }, 60_000);

  it("a prober process that dies is started again: its targets miss meanwhile, then answer again", async () => {
    const ns = lab.ns("p");
    lab.background("p", [process.execPath, "-e", `require("node:net").createServer((s) => s.destroy()).listen(21500, "127.0.0.1"); // hclisten`]);
    await sleep(300);
    const prober = new CheckProber(ns);
    const rounds: UplinkRound[] = [];
    const check: CheckSettings = { targets: ["127.0.0.1"], method: { kind: "tcp", port: 21500 }, intervalMs: 100, timeoutMs: 50, down: 3, up: 2, holdMs: 0 };
    probes = startUplinkProbes({ netns: ns, uplink: "t", source4: "127.0.0.1", check, prober }, (r) => rounds.push(r));
    try {
      await until("answered rounds", () => rounds.filter((r) => r.results[0].ok).length >= 3, 5000);
      const first = prober.pid()!;
      process.kill(first, "SIGKILL");
      const killedAt = rounds.length;
      await until("a miss that says why", () => rounds.slice(killedAt).some((r) => r.results[0].error?.startsWith("probe exited:")), 5000);
      await until("answered again", () => rounds.at(-1)!.results[0].ok, 5000);
      expect(prober.pid()).toBeGreaterThan(0);
      expect(prober.pid()).not.toBe(first);
    } finally {
      await probes.stop();
      probes = null;
      await prober.stop();
    }
    expect(prober.pid()).toBeUndefined();
  }, 30_000);

  it("HTTP and command checks share the prober and say what they always said", async () => {
    const ns = lab.ns("p");
    lab.background("p", [process.execPath, "-e", `require("node:http").createServer((q, s) => { s.statusCode = q.url === "/ok" ? 200 : 503; s.end("x"); }).listen(21600, "127.0.0.1"); // hclisten`]);
    await sleep(300);
    const prober = new CheckProber(ns);
    const base = { intervalMs: 100, timeoutMs: 1000, down: 3, up: 2, holdMs: 0 };
    const methods: CheckSettings["method"][] = [
      { kind: "http", port: 21600, path: "/ok", status: 200 },
      { kind: "http", port: 21600, path: "/sick", status: 200 },
      { kind: "command", argv: ["sh", "-c", 'test "$SYMROUTE_ADDRESS" = 127.0.0.1 && test "$CHECK_ENV" = yes'], env: { CHECK_ENV: "yes" } },
      { kind: "command", argv: ["false"], env: {} },
      { kind: "command", argv: ["/nonexistent/check"], env: {} },
    ];
    const got: UplinkRound[][] = methods.map(() => []);
    const running = methods.map((method, i) => startUplinkProbes({ netns: ns, uplink: `m${i}`, source4: "127.0.0.1", check: { ...base, targets: ["127.0.0.1"], method }, prober }, (r) => got[i].push(r)));
    try {
      await until("3 rounds of each", () => got.every((g) => g.length >= 3), 8000);
    } finally {
      await Promise.all(running.map((p) => p.stop()));
      await prober.stop();
    }
    const last = got.map((g) => g.at(-1)!.results[0]);
    expect(last[0]).toMatchObject({ ok: true });
    expect(last[0].rttMs).toBeGreaterThan(0);
    expect(last[1]).toEqual({ target: "127.0.0.1", ok: false, rttMs: null, error: "status 503" });
    expect(last[2]).toMatchObject({ ok: true });
    expect(last[3]).toEqual({ target: "127.0.0.1", ok: false, rttMs: null, error: "exit 1" });
    expect(last[4]).toEqual({ target: "127.0.0.1", ok: false, rttMs: null, error: "ENOENT" });
  }, 30_000);
});

describe.skipIf(!isRoot)("symroute run killed with SIGKILL", () => {
  const lab = new Lab("kd", "hc");
  const marker = `30.${randomBytes(3).readUIntBE(0, 3)}`;
  let daemon: CliRun | undefined;
  let ns = "";

  beforeAll(async () => {
    await buildTwoLinkHost(lab);
    ns = lab.ns("h");
  });
  afterAll(async () => {
    killDaemon(daemon);
    cli(["destroy", "--netns", ns]);
    await lab.teardown();
    for (const p of marked(marker)) process.kill(p.pid, "SIGKILL");
  });

  it("takes its monitors, probers and check commands with it", async () => {
    const file = configFile(`version: 1
uplinks:
  - name: isp1
    interface: eth1
    gateway: 203.0.113.1
    check: { targets: [203.0.113.1], interval: 200ms }
  - name: isp2
    interface: eth2
    gateway: 192.0.2.1
loadBalancers:
  - name: lb
    vips: [20.0.0.1]
    flows: [{ name: t, priority: 1, protocols: [tcp], destinationPorts: ["4000"] }]
    targets:
      - { name: a, via: 203.0.113.1, interface: eth1, check: { tcp: 4000, interval: 200ms } }
      - { name: b, via: 192.0.2.1, interface: eth2, check: { command: [sh, -c, "sleep ${marker} & sleep ${marker}"], interval: 500ms, timeout: 60s } }
daemon:
  metrics: "off"
`);
    daemon = await startDaemon([file, "--netns", ns]);
    const pid = daemon.child.pid!;
    await sleep(1500);
    const before = descendants(pid);
    const has = (what: RegExp) => before.some((p) => what.test(p.cmdline));
    const shown = before.map((p) => `${p.pid} ${p.cmdline.slice(0, 80)}`).join("\n");
    expect(has(/\bip .*monitor/), shown).toBe(true);
    expect(has(/\bnft monitor/), shown).toBe(true);
    expect(has(/\bping .*203\.0\.113\.1/), shown).toBe(true);
    expect(before.filter((p) => p.cmdline.includes("symroute-check-prober")).length, shown).toBe(1);
    expect(has(new RegExp(`sleep ${marker.replace(".", "\\.")}`)), shown).toBe(true);
    // a parent-death signal follows the thread that forked: the children must not die while the daemon lives on
    await sleep(1500);
    const still = new Set(descendants(pid).map((p) => p.pid));
    const lasting = before.filter((p) => !/sleep|sh -c/.test(p.cmdline));
    expect(lasting.filter((p) => !still.has(p.pid)).map((p) => p.cmdline)).toEqual([]);
    expect(daemon.output()).not.toContain("monitor restarted");

    daemon.child.kill("SIGKILL");
    await daemon.done;
    const pids = new Set(before.map((p) => p.pid));
    const alive = () => processes().filter((p) => pids.has(p.pid) || p.cmdline.includes(marker));
    const gone = await until("every child gone", () => alive().length === 0, 2000, () => JSON.stringify(alive().map((p) => p.cmdline.slice(0, 80))));
    console.log(`kill -9: ${before.length} children and grandchildren gone ${gone} ms after the daemon`);
    expect(alive()).toEqual([]);
  }, 60_000);
});
