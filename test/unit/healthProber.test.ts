/**
 * The prober's plumbing without root: ping's lines parsed, the argv it runs,
 * and rounds assembled from a fake ping (answers, silence, a process that dies,
 * a family without a source address, a source that changes).
 */
import { afterEach, describe, expect, it } from "vitest";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkSettings, UplinkHealth, type Transition } from "../../src/daemon/health.js";
import { parseProbeLine, probeArgv, startUplinkProbes, type UplinkProbes, type UplinkRound } from "../../src/kernel/prober.js";
import { parseProberRecord } from "../../src/kernel/checkProber.js";
import { childArgv } from "../../src/kernel/children.js";

describe("ping's lines", () => {
  it.each([
    ["PING 198.51.100.1 (198.51.100.1) from 203.0.113.2 : 56(84) bytes of data.", null],
    ["64 bytes from 198.51.100.1: icmp_seq=12 ttl=64 time=0.043 ms", { seq: 12, kind: "reply", rttMs: 0.043 }],
    ["64 bytes from 2001:db8::1: icmp_seq=3 ttl=64 time=12.5 ms", { seq: 3, kind: "reply", rttMs: 12.5 }],
    ["no answer yet for icmp_seq=7", { seq: 7, kind: "pending" }],
    ["From 203.0.113.1 icmp_seq=9 Destination Host Unreachable", { seq: 9, kind: "failed", error: "Destination Host Unreachable" }],
  ])("%s", (line, parsed) => {
    expect(parseProbeLine(line)).toEqual(parsed);
  });

  it("runs one ping per target from the source address, -6 for IPv6", () => {
    const check = checkSettings({ targets: ["198.51.100.1"] });
    expect(probeArgv(check, "198.51.100.1", "203.0.113.2")).toEqual(["ping", "-4", "-n", "-O", "-i", "0.2", "-W", "0.2", "-I", "203.0.113.2", "198.51.100.1"]);
    expect(probeArgv(check, "2001:db8::1", "2001:db8:1::2")).toEqual(["ping", "-6", "-n", "-O", "-i", "0.2", "-W", "0.2", "-I", "2001:db8:1::2", "2001:db8::1"]);
  });
});

describe("the check prober's records", () => {
  it.each([
    ['{"id":3,"seq":4,"ok":true,"rttMs":1.25}', { id: 3, seq: 4, ok: true, rttMs: 1.25 }],
    ['{"id":3,"seq":5,"ok":false,"error":"ECONNREFUSED"}', { id: 3, seq: 5, ok: false, error: "ECONNREFUSED" }],
    ['{"id":3,"seq":5,"ok":true}', null],
    ['{"id":"3","seq":5,"ok":false,"error":"x"}', null],
    ["connected tcp_seq=4 time=1.250 ms", null],
    ["null", null],
  ])("%s", (line, record) => {
    expect(parseProberRecord(line)).toEqual(record);
  });

  it("ties every long-lived child to the daemon, inside its namespace", () => {
    expect(childArgv(undefined, ["nft", "monitor"])).toEqual(["setpriv", "--pdeathsig", "KILL", "nft", "monitor"]);
    expect(childArgv("ns1", ["node", "-e", "x"], "TERM")).toEqual(["ip", "netns", "exec", "ns1", "setpriv", "--pdeathsig", "TERM", "node", "-e", "x"]);
  });
});

/** A ping stand-in: 192.0.2.1 answers (unless sent from 10.0.0.9), 192.0.2.2 never does, 192.0.2.3 cannot bind and exits, 192.0.2.4 answers from icmp_seq 65531 on (and wraps to 0). */
const FAKE = `#!/usr/bin/env node
const args = process.argv.slice(2);
const target = args.at(-1), source = args[args.indexOf("-I") + 1], interval = Number(args[args.indexOf("-i") + 1]) * 1000;
if (target === "192.0.2.3") { process.stderr.write("ping: bind: Cannot assign requested address\\n"); process.exit(2); }
console.log("PING " + target);
let seq = target === "192.0.2.4" ? 65530 : 0, last = 0;
const send = () => {
  if (last && !(target === "192.0.2.1" && source !== "10.0.0.9") && target !== "192.0.2.4") console.log("no answer yet for icmp_seq=" + last);
  seq = (seq + 1) % 65536;
  const n = (last = seq);
  if ((target === "192.0.2.1" && source !== "10.0.0.9") || target === "192.0.2.4") setTimeout(() => console.log("64 bytes from " + target + ": icmp_seq=" + n + " ttl=64 time=2.00 ms"), 2);
};
send();
setInterval(send, interval);
`;

describe("rounds from a fake ping", () => {
  const dir = mkdtempSync(join(tmpdir(), "symroute-prober-"));
  const ping = join(dir, "ping");
  writeFileSync(ping, FAKE);
  chmodSync(ping, 0o755);
  let probes: UplinkProbes | null = null;
  afterEach(async () => {
    await probes?.stop();
    probes = null;
  });

  function run(targets: string[], sources: { source4?: string; source6?: string }, timeout?: string) {
    // a timeout of 1 s: an answer that a loaded machine delivers after 25 ms (half the interval, the default) must
    // not count as a miss; a silent target still misses (its "no answer yet" line, a second later)
    const check = checkSettings({ targets, interval: "50ms", timeout: timeout ?? "1s" });
    const rounds: UplinkRound[] = [];
    const transitions: Transition[] = [];
    const health = new UplinkHealth(check, performance.now());
    probes = startUplinkProbes({ uplink: "isp1", check, ping, ...sources }, (r) => {
      rounds.push(r);
      const t = health.record(r);
      if (t) transitions.push(t);
    });
    return { rounds, transitions, health };
  }
  const until = async (cond: () => boolean, ms = 5000) => {
    const end = performance.now() + ms;
    while (!cond()) {
      if (performance.now() > end) throw new Error("timed out");
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  it("groups one answer per target into rounds; one silent target never takes the uplink down", async () => {
    const { rounds, transitions } = run(["192.0.2.1", "192.0.2.2"], { source4: "10.0.0.2" });
    await until(() => rounds.length >= 12);
    expect(rounds.map((r) => r.seq).slice(0, 12)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    for (const r of rounds) {
      expect(r.uplink).toBe("isp1");
      expect(r.results).toEqual([{ target: "192.0.2.1", ok: true, rttMs: 2 }, { target: "192.0.2.2", ok: false, rttMs: null, error: "no answer" }]);
    }
    expect(transitions).toEqual([]);
    expect(probes!.processes()).toBe(2);
  });

  it("icmp_seq wrapping from 65535 to 0 keeps the rounds in step", async () => {
    // every target answers, so rounds close on the answers; a timeout of 1 s keeps an answer that a loaded machine
    // delivers after 25 ms (half the interval, the default) from counting as a miss
    const { rounds, transitions } = run(["192.0.2.4", "192.0.2.1"], { source4: "10.0.0.2" }, "1s");
    await until(() => rounds.length >= 12);
    expect(rounds.map((r) => r.seq).slice(0, 12)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(rounds.every((r) => r.results.every((p) => p.ok))).toBe(true);
    expect(transitions).toEqual([]);
  });

  it("a probe that cannot start is a miss with its error; with no answer anywhere the uplink goes down", async () => {
    const { rounds, transitions } = run(["192.0.2.2", "192.0.2.3"], { source4: "10.0.0.2" });
    await until(() => transitions.length > 0);
    expect(transitions[0]).toMatchObject({ from: "up", to: "down" });
    expect(rounds.at(-1)!.results[1]).toEqual({ target: "192.0.2.3", ok: false, rttMs: null, error: "probe exited: ping: bind: Cannot assign requested address" });
  });

  it("a family without a source address misses by the clock, and retarget brings its probes", async () => {
    const { rounds, transitions, health } = run(["192.0.2.1"], {});
    await until(() => transitions.length > 0);
    expect(probes!.processes()).toBe(0);
    expect(rounds[0].results).toEqual([{ target: "192.0.2.1", ok: false, rttMs: null, error: "no IPv4 source address" }]);
    probes!.retarget({ source4: "10.0.0.9" });  // runs, but from an address whose answers never come back
    expect(probes!.processes()).toBe(1);
    const from = rounds.length;
    await until(() => rounds.length >= from + 5);
    expect(rounds.slice(from).every((r) => !r.results[0].ok && r.results[0].error === "no answer")).toBe(true);
    probes!.retarget({ source4: "10.0.0.2" });
    await until(() => rounds.at(-1)!.results[0].ok);
    expect(health.current).toBe("down");  // hold: 10 s
    expect(health.snapshot().targets[0]).toMatchObject({ address: "192.0.2.1", lastMs: 2 });
  });
});
