/**
 * `uplinks[].check` as users write it: defaults filled in, and located errors
 * for every wrong value (count of targets, method, durations, families).
 */
import { describe, expect, it } from "vitest";
import { mustFail, mustLoad } from "../helpers/config.js";
import { checkSettings } from "../../src/daemon/health.js";

const UPLINK = (check: string, gateways = "    gateway: 203.0.113.1\n    gateway6: 2001:db8:1::1\n") => `version: 1\nuplinks:\n  - name: isp1\n    interface: eth1\n${gateways}    check:\n${check}`;

describe("uplinks[].check", () => {
  it("fills in the defaults", () => {
    const c = mustLoad(UPLINK('      targets: [198.51.100.1, "2001:db8::1"]\n')).config.uplinks[0].check;
    expect(c).toEqual({ targets: ["198.51.100.1", "2001:db8::1"], method: "icmp", interval: "200ms", down: 4, up: 5, hold: "10s" });
    expect(checkSettings(c!)).toEqual({ targets: ["198.51.100.1", "2001:db8::1"], method: { kind: "icmp" }, intervalMs: 200, timeoutMs: 100, down: 4, up: 5, holdMs: 10_000 });
  });

  it("takes every field", () => {
    const c = mustLoad(UPLINK("      targets: [198.51.100.1]\n      method: tcp:443\n      interval: 1s\n      timeout: 1500ms\n      down: 2\n      up: 3\n      hold: 1m\n")).config.uplinks[0].check;
    expect(checkSettings(c!)).toEqual({ targets: ["198.51.100.1"], method: { kind: "tcp", port: 443 }, intervalMs: 1000, timeoutMs: 1500, down: 2, up: 3, holdMs: 60_000 });
  });

  it.each([
    ["      targets: []\n", "test.yaml:8:16: uplinks[0].check.targets: must list at least 1 entry, got 0"],
    ["      targets: [1.1.1.1, 1.1.1.2, 1.1.1.3, 1.1.1.4, 1.1.1.5, 1.1.1.6, 1.1.1.7, 1.1.1.8, 1.1.1.9]\n", "test.yaml:8:16: uplinks[0].check.targets: must list at most 8 entries, got 9"],
    ["      method: icmp\n", "test.yaml:8:7: uplinks[0].check.targets: required field is missing (expected a list)"],
    ["      targets: [127.0.0.1]\n", "test.yaml:8:17: uplinks[0].check.targets[0]: 127.0.0.1: a loopback address cannot be a check target"],
    ["      targets: [198.51.100.1]\n      method: udp\n", 'test.yaml:9:15: uplinks[0].check.method: must be "icmp" or "tcp:PORT" with a port 1-65535, such as tcp:443; got "udp"'],
    ["      targets: [198.51.100.1]\n      method: tcp:70000\n", 'test.yaml:9:15: uplinks[0].check.method: must be "icmp" or "tcp:PORT" with a port 1-65535, such as tcp:443; got "tcp:70000"'],
    ["      targets: [198.51.100.1]\n      interval: 20ms\n", "test.yaml:9:17: uplinks[0].check.interval: must be at least 50ms (one round of probes at most every 50 ms); got 20ms"],
    ["      targets: [198.51.100.1]\n      interval: fast\n", 'test.yaml:9:17: uplinks[0].check.interval: must be a duration such as 200ms, 10s or 1m; got "fast"'],
    ["      targets: [198.51.100.1]\n      interval: 200\n", "test.yaml:9:17: uplinks[0].check.interval: expected a duration such as 200ms or 10s, got the number 200"],
    ["      targets: [198.51.100.1]\n      timeout: 5ms\n", "test.yaml:9:16: uplinks[0].check.timeout: must be at least 10ms; got 5ms"],
    ["      targets: [198.51.100.1]\n      hold: 2h\n", 'test.yaml:9:13: uplinks[0].check.hold: must be a duration such as 200ms, 10s or 1m; got "2h"'],
    ["      targets: [198.51.100.1]\n      down: 0\n", "test.yaml:9:13: uplinks[0].check.down: must be at least 1, got 0"],
    ["      targets: [198.51.100.1]\n      up: 1.5\n", "test.yaml:9:11: uplinks[0].check.up: expected an integer, got the number 1.5"],
    ["      targets: [198.51.100.1]\n      every: 1s\n", "test.yaml:9:7: uplinks[0].check.every: unknown field 'every'"],
  ])("%j", (check, message) => {
    expect(mustFail(UPLINK(check))).toEqual([message]);
  });

  it("needs a gateway of each target's family, and no target twice", () => {
    expect(mustFail(UPLINK('      targets: [198.51.100.1, "2001:db8::1", 198.51.100.1]\n', "    gateway: 203.0.113.1\n"))).toEqual([
      "test.yaml:7:31: uplinks[0].check.targets[1]: IPv6 target but uplink isp1 has no gateway6: its probes could not leave by it",
      "test.yaml:7:46: uplinks[0].check.targets[2]: target 198.51.100.1 is listed twice",
    ]);
    expect(mustFail(UPLINK("      targets: [198.51.100.1]\n", "    gateway6: 2001:db8:1::1\n"))).toEqual([
      "test.yaml:7:17: uplinks[0].check.targets[0]: IPv4 target but uplink isp1 has no gateway (only gateway6): its probes could not leave by it",
    ]);
  });
});
