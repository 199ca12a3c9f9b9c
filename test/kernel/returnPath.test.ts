/**
 * Seed 000 in real namespaces: a TCP connection from a client to a service on
 * the node's loopback fails while the reply follows the default route, and
 * succeeds with each of symroute's strategies, for IPv4 and IPv6.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { buildReturnPath, packetsAtDefaultGateway, RETURN_PATH } from "../../src/lab/returnPath.js";
import { tcpEcho } from "../../src/lab/traffic.js";
import { cli, configFile, conntrackList, isRoot } from "../helpers/kernel.js";

const UPLINK = (returnTraffic: string) => `version: 1
uplinks:
  - name: network1
    interface: eth1
    gateway: 10.111.221.21
    gateway6: fd00:221::21
    returnTraffic: ${returnTraffic}
`;

const CONFIGS: Record<string, string> = {
  source: UPLINK("none") + `services:\n  - name: svc1\n    addresses: [192.168.1.1, fd00:1::1]\n    uplink: network1\n    strategy: source\n`,
  mark: UPLINK("none") + `services:\n  - name: svc1\n    addresses: [192.168.1.1, fd00:1::1]\n    uplink: network1\n    strategy: mark\n`,
  static: UPLINK("none") + `services:\n  - name: svc1\n    addresses: [192.168.1.1, fd00:1::1]\n    uplink: network1\n    strategy: static\n    clients: [10.111.223.0/24, fd00:223::/64]\n`,
  connmark: UPLINK("connmark"),
};

describe.skipIf(!isRoot)("return-path (seed 000) in namespaces", () => {
  const lab = new Lab("tr");
  beforeAll(async () => {
    await buildReturnPath(lab);
  });
  afterAll(async () => {
    await lab.teardown();
  });

  const connect = () =>
    Promise.all([tcpEcho(lab, "client1", RETURN_PATH.service1.v4, RETURN_PATH.port), tcpEcho(lab, "client1", RETURN_PATH.service1.v6, RETURN_PATH.port)]);

  for (const [strategy, yaml] of Object.entries(CONFIGS)) {
    it(`${strategy}: the reply is lost without symroute and arrives with it (IPv4, IPv6)`, async () => {
      const lostBefore = await packetsAtDefaultGateway(lab);
      const before = await connect();
      expect(before.map((r) => r.ok)).toEqual([false, false]);
      expect(await packetsAtDefaultGateway(lab)).toBeGreaterThan(lostBefore);

      const file = configFile(yaml);
      const applied = cli(["apply", file, "--netns", lab.ns("node")]);
      expect(applied.stderr).toBe("");
      expect(applied.code).toBe(0);
      const lostAfterApply = await packetsAtDefaultGateway(lab);
      const after = await connect();
      expect(after.map((r) => r.ok)).toEqual([true, true]);
      expect(await packetsAtDefaultGateway(lab)).toBe(lostAfterApply);

      if (strategy === "connmark") {
        const ct = await conntrackList(lab, "node", ["-p", "tcp", "--orig-dst", RETURN_PATH.service1.v4]);
        expect(ct).toMatch(/dport=3000 .*mark=65536/);
        const ct6 = await conntrackList(lab, "node", ["-f", "ipv6", "-p", "tcp", "--orig-dst", RETURN_PATH.service1.v6]);
        expect(ct6).toMatch(/dport=3000 .*mark=65536/);
      }

      const destroyed = cli(["destroy", "--netns", lab.ns("node")]);
      expect(destroyed.code).toBe(0);
      const again = await connect();
      expect(again.map((r) => r.ok)).toEqual([false, false]);
    });
  }
});
