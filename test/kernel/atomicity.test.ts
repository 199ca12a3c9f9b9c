/**
 * Atomicity: a failure at any step of an apply leaves the kernel exactly as
 * before; a process killed mid-apply is repaired by the next apply.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { loadConfigText } from "../../src/config/load.js";
import { reconcile } from "../../src/engine/index.js";
import { buildTwoLinkHost, cli, configFile, isRoot, kernelSnapshot, RP_KEYS, TWO_UPLINKS_YAML } from "../helpers/kernel.js";
import { FaultyRunner } from "../helpers/faulty.js";

const FIRST = `version: 1
uplinks:
  - name: isp1
    interface: eth1
    gateway: 203.0.113.1
    gateway6: 2001:db8:1::1
`;

describe.skipIf(!isRoot)("atomicity", () => {
  const lab = new Lab("ta");
  let applied = "";
  beforeAll(async () => {
    await buildTwoLinkHost(lab);
    await lab.exec("h", ["sysctl", "-q", "-w", "net/ipv4/conf/eth2/rp_filter=1"]);
    const r = cli(["apply", configFile(FIRST), "--netns", lab.ns("h")]);
    expect(r.code, r.stderr).toBe(0);
    applied = await kernelSnapshot(lab, "h", RP_KEYS);
  });
  afterAll(async () => {
    cli(["destroy", "--netns", lab.ns("h")]);
    await lab.teardown();
  });

  it("a route to a missing device fails the apply (exit 3) and the kernel is exactly as before", async () => {
    // a balancer's target behind a conduit that does not exist (a missing uplink interface only leaves its routes out)
    const bad = `${TWO_UPLINKS_YAML}loadBalancers:
  - name: lb
    vips: [20.0.0.1]
    flows: [{ name: tcp, priority: 1, protocols: [tcp], destinationPorts: ["80"] }]
    targets: [{ name: t1, via: 172.16.9.6, interface: eth9 }]
`;
    const r = cli(["apply", configFile(bad), "--netns", lab.ns("h")]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/apply failed: ip4: .*eth9|Cannot find device "eth9"/);
    expect(r.stderr).toContain("rolled back: the kernel is as it was before");
    expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(applied);
  });

  const steps: [string, (argv: string[], stdin?: string) => boolean][] = [
    ["the nft transaction", (argv, stdin) => argv.includes("nft") && argv.includes("-f") && (stdin ?? "").includes("198.51.100.80")],
    ["the IPv4 batch", (argv, stdin) => argv.includes("-batch") && argv.includes("-4") && (stdin ?? "").includes("192.0.2.31")],
    ["the IPv6 batch", (argv, stdin) => argv.includes("-batch") && argv.includes("-6") && (stdin ?? "").includes("2001:db8:2::31")],
    ["the sysctl write", (argv) => argv.includes("sysctl") && argv.some((a) => a.includes("eth2/rp_filter=2"))],
  ];
  for (const [name, predicate] of steps) {
    it(`a failure in ${name} is rolled back to the exact state before`, async () => {
      const loaded = loadConfigText(TWO_UPLINKS_YAML, "two.yaml");
      if (!loaded.ok) throw new Error("config");
      const runner = new FaultyRunner(lab.ns("h"), predicate);
      const { outcome } = await reconcile({ netns: lab.ns("h"), runner, load: () => loaded.value });
      expect(runner.failures).toBe(1);
      expect(outcome.rolledBack?.restored).toBe(true);
      expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(applied);
    });
  }

  for (const step of ["ip4", "ip6", "sysctl"]) {
    it(`a process killed before the ${step} step leaves a journal, and the next apply repairs the kernel`, async () => {
      const file = configFile(TWO_UPLINKS_YAML);
      const killed = cli(["apply", file, "--netns", lab.ns("h")], { SYMROUTE_FAULT: `crash-before:${step}` });
      expect(killed.code).toBe(128);
      const status = cli(["status", "--netns", lab.ns("h"), "--json"]);
      expect(JSON.parse(status.stdout).interruptedApply).not.toBeNull();
      const repaired = cli(["apply", file, "--netns", lab.ns("h")]);
      expect(repaired.code, repaired.stderr).toBe(0);
      const plan = cli(["plan", file, "--netns", lab.ns("h"), "--exit-code"]);
      expect(plan.code, plan.stdout).toBe(0);
      const status2 = JSON.parse(cli(["status", "--netns", lab.ns("h"), "--json"]).stdout);
      expect(status2.interruptedApply).toBeNull();
      expect(status2.drift).toEqual([]);
      // back to the first config for the next case
      expect(cli(["apply", configFile(FIRST), "--netns", lab.ns("h")]).code).toBe(0);
      expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(applied);
    });
  }
});
