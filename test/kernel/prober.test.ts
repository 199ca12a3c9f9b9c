/**
 * Uplink health probes in real namespaces (src/kernel/prober.ts feeding
 * src/daemon/health.ts with the defaults): the probes leave from the uplink's
 * address by its own table even when main's default route points elsewhere; a
 * silent drop at the ISP (link still up) takes the uplink down within 1 s; it
 * comes back only after `hold`; 20% random loss for 30 s moves nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { checkSettings, UplinkHealth, type Transition } from "../../src/daemon/health.js";
import { startUplinkProbes, type UplinkProbes, type UplinkRound } from "../../src/kernel/prober.js";
import { isRoot } from "../helpers/kernel.js";

const TARGETS = ["198.51.100.1", "198.51.100.2"];
const UPLINK_ADDRESS = "203.0.113.2";
const TABLE = "1100";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!isRoot)("uplink health probes", () => {
  const lab = new Lab("hp");
  const check = checkSettings({ targets: TARGETS });
  const rounds: UplinkRound[] = [];
  const transitions: Transition[] = [];
  let health: UplinkHealth;
  let probes: UplinkProbes | null = null;

  async function waitFor<T>(what: string, find: () => T | undefined, timeoutMs: number): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (performance.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; last rounds: ${JSON.stringify(rounds.slice(-3))}`);
      await sleep(10);
    }
  }

  const ispRules = (extra: string) => `table inet hp {\n  chain input {\n    type filter hook input priority 0;\n    icmp type echo-request ip saddr ${UPLINK_ADDRESS} counter\n${extra}  }\n}\n`;

  beforeAll(async () => {
    await lab.addHosts("host", "isp", "other");
    await lab.link("host", "eth1", "isp", "eth0");
    await lab.link("host", "eth2", "other", "eth0");
    await lab.addr("host", "eth1", `${UPLINK_ADDRESS}/24`);
    await lab.addr("isp", "eth0", "203.0.113.1/24");
    await lab.addr("isp", "lo", ...TARGETS.map((t) => `${t}/32`));
    await lab.addr("host", "eth2", "10.9.0.2/24");
    await lab.addr("other", "eth0", "10.9.0.1/24");
    await lab.addr("other", "lo", ...TARGETS.map((t) => `${t}/32`));  // answers too, were a probe ever routed by main
    // main's default goes to "other"; the uplink's table and rule are what symroute would write
    await lab.route("host", "default", "via", "10.9.0.1", "dev", "eth2");
    await lab.route("host", "default", "via", "203.0.113.1", "dev", "eth1", "table", TABLE);
    await lab.exec("host", ["ip", "rule", "add", "from", UPLINK_ADDRESS, "lookup", TABLE, "priority", "1000"]);
    // IPv6 the same way, and a TCP service on the ISP
    await lab.addr("host", "eth1", "2001:db8:1::2/64");
    await lab.addr("isp", "eth0", "2001:db8:1::1/64");
    await lab.addr("isp", "lo", "2001:db8:99::1/128");
    await lab.addr("host", "eth2", "2001:db8:9::2/64");
    await lab.addr("other", "eth0", "2001:db8:9::1/64");
    await lab.addr("other", "lo", "2001:db8:99::1/128");
    await lab.route("host", "default", "via", "2001:db8:9::1", "dev", "eth2");
    await lab.route("host", "default", "via", "2001:db8:1::1", "dev", "eth1", "table", TABLE);
    await lab.exec("host", ["ip", "-6", "rule", "add", "from", "2001:db8:1::2", "lookup", TABLE, "priority", "1000"]);
    lab.background("isp", ["socat", "TCP-LISTEN:8080,bind=198.51.100.1,fork,reuseaddr", "SYSTEM:true"]);
    await lab.exec("isp", ["nft", "-f", "-"], ispRules(""));
    await lab.exec("other", ["nft", "-f", "-"], "table inet hp {\n  chain input {\n    type filter hook input priority 0;\n    icmp type echo-request counter\n    icmpv6 type echo-request counter\n    tcp dport 8080 counter\n  }\n}\n");
  });

  afterAll(async () => {
    await probes?.stop();
    await lab.teardown();
  });

  it("probes leave from the uplink's address by its table; a silent drop is down within 1 s; back up only after hold; 20% loss moves nothing", async () => {
    health = new UplinkHealth(check, performance.now());
    probes = startUplinkProbes({ netns: lab.ns("host"), uplink: "isp1", source4: UPLINK_ADDRESS, check }, (r) => {
      rounds.push(r);
      const t = health.record(r);
      if (t) transitions.push(t);
    });
    expect(probes.processes()).toBe(2);

    // healthy: every round answered, by the ISP, none by main's default
    await waitFor("10 rounds", () => (rounds.length >= 10 ? true : undefined), 5000);
    expect(rounds.slice(0, 10).every((r) => r.results.every((p) => p.ok && p.rttMs !== null))).toBe(true);
    expect(await lab.counted("isp", "inet", "hp")).toBeGreaterThanOrEqual(20);
    expect(await lab.counted("other", "inet", "hp")).toBe(0);
    expect(transitions).toEqual([]);

    // the ISP silently drops (the link stays up)
    await sleep(Math.random() * check.intervalMs);  // at any phase of the rounds
    await lab.exec("isp", ["nft", "-f", "-"], `flush table inet hp\n${ispRules("    icmp type echo-request drop\n")}`);
    const dropped = performance.now();
    const down = await waitFor("down transition", () => transitions.find((t) => t.to === "down"), 3000);
    const detection = down.at - dropped;
    console.log(`down after ${detection.toFixed(0)} ms: ${down.reason}`);
    expect(detection).toBeLessThan(1000);
    expect(down.reason).toMatch(/^4 missed rounds in a row/);

    // the drop goes: answered again at once, but up only when hold (10 s) has passed since down
    await sleep(500);
    await lab.exec("isp", ["nft", "-f", "-"], `flush table inet hp\n${ispRules("")}`);
    const healed = performance.now();
    await waitFor("answered round", () => (rounds.at(-1)!.results.some((p) => p.ok) ? true : undefined), 2000);
    expect(health.current).toBe("down");
    const up = await waitFor("up transition", () => transitions.find((t) => t.to === "up"), 15_000);
    console.log(`answered again ${(healed - down.at).toFixed(0)} ms after down; up ${(up.at - down.at).toFixed(0)} ms after down`);
    expect(up.at - down.at).toBeGreaterThanOrEqual(check.holdMs);
    expect(up.at - down.at).toBeLessThan(check.holdMs + 1000);

    // 20% random loss on the ISP for 30 s: no transition
    await lab.exec("isp", ["nft", "-f", "-"], `flush table inet hp\n${ispRules("    icmp type echo-request numgen random mod 10 < 2 drop\n")}`);
    const before = transitions.length;
    const from = rounds.length;
    await sleep(30_000);
    const lossy = rounds.slice(from);
    const probesSent = lossy.length * TARGETS.length;
    const lost = lossy.reduce((n, r) => n + r.results.filter((p) => !p.ok).length, 0);
    console.log(`20% loss for 30 s: ${lossy.length} rounds, ${lost}/${probesSent} probes lost, ${lossy.filter((r) => r.results.every((p) => !p.ok)).length} rounds missed`);
    expect(lossy.length).toBeGreaterThan(120);
    expect(lost / probesSent).toBeGreaterThan(0.1);
    expect(lost / probesSent).toBeLessThan(0.3);
    expect(transitions.slice(before)).toEqual([]);
    expect(health.snapshot()).toMatchObject({ state: "up", transitions: 2 });
    expect(await lab.counted("other", "inet", "hp")).toBe(0);

    await probes.stop();
    expect(probes.processes()).toBe(0);
  }, 90_000);

  it("IPv6 targets by ping -6 from the uplink's IPv6 address, and tcp:PORT connects from the uplink's address", async () => {
    await lab.exec("isp", ["nft", "-f", "-"], `flush table inet hp\n${ispRules("")}`);
    const v6 = checkSettings({ targets: ["2001:db8:99::1"] });
    const got: UplinkRound[] = [];
    const p6 = startUplinkProbes({ netns: lab.ns("host"), uplink: "isp1", source4: UPLINK_ADDRESS, source6: "2001:db8:1::2", check: v6 }, (r) => got.push(r));
    try {
      await waitFor("5 IPv6 rounds", () => (got.length >= 5 ? true : undefined), 5000);
      expect(got.every((r) => r.results[0].ok)).toBe(true);
    } finally {
      await p6.stop();
    }
    expect(await lab.counted("other", "inet", "hp")).toBe(0);

    const tcp = checkSettings({ targets: ["198.51.100.1"], method: "tcp:8080" });
    const h = new UplinkHealth(tcp, performance.now());
    const tcpRounds: UplinkRound[] = [];
    const seen: Transition[] = [];
    const pt = startUplinkProbes({ netns: lab.ns("host"), uplink: "isp1", source4: UPLINK_ADDRESS, check: tcp }, (r) => {
      tcpRounds.push(r);
      const t = h.record(r);
      if (t) seen.push(t);
    });
    try {
      await waitFor("10 TCP rounds", () => (tcpRounds.length >= 10 ? true : undefined), 8000);
      expect(tcpRounds.slice(2).every((r) => r.results[0].ok), JSON.stringify(tcpRounds.slice(0, 4))).toBe(true);
      await lab.exec("isp", ["nft", "-f", "-"], `flush table inet hp\n${ispRules("    tcp dport 8080 drop\n")}`);
      const dropped = performance.now();
      const down = await waitFor("TCP down", () => seen.find((t) => t.to === "down"), 3000);
      console.log(`tcp:8080 down after ${(down.at - dropped).toFixed(0)} ms`);
      expect(down.at - dropped).toBeLessThan(1200);
    } finally {
      await pt.stop();
    }
    expect(await lab.counted("other", "inet", "hp")).toBe(0);
  }, 60_000);
});
