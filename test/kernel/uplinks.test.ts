/**
 * Seed 004 in real namespaces: connections entering by each uplink, to the
 * host's own sockets and forwarded to a LAN server, for IPv4 and IPv6; the
 * connection marks in conntrack; rp_filter restored by destroy.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { buildUplinks, UPLINKS } from "../../src/lab/uplinks.js";
import { tcpEcho } from "../../src/lab/traffic.js";
import { examplePath } from "../../src/lab/examples.js";
import { cli, conntrackList, isRoot } from "../helpers/kernel.js";

describe.skipIf(!isRoot)("uplinks (seed 004) in namespaces", () => {
  const lab = new Lab("tu");
  beforeAll(async () => {
    await buildUplinks(lab);
  });
  afterAll(async () => {
    await lab.teardown();
  });

  const probes = () =>
    Promise.all([
      tcpEcho(lab, "client1", UPLINKS.host.isp1.v4, UPLINKS.port),
      tcpEcho(lab, "client1", UPLINKS.host.isp1.v6, UPLINKS.port),
      tcpEcho(lab, "client2", UPLINKS.host.isp2.v4, UPLINKS.port),
      tcpEcho(lab, "client2", UPLINKS.host.isp2.v6, UPLINKS.port),
      tcpEcho(lab, "client2", UPLINKS.host.isp2.v4, UPLINKS.forwardedPort),
      tcpEcho(lab, "client2", UPLINKS.host.isp2.v6, UPLINKS.forwardedPort),
      tcpEcho(lab, "client1", UPLINKS.host.isp1.v4, UPLINKS.forwardedPort),
    ]);
  const rp = async (dev: string) => (await lab.exec("host", ["cat", `/proc/sys/net/ipv4/conf/${dev}/rp_filter`])).stdout.trim();

  it("replies by the default uplink only work for isp1 before symroute", async () => {
    const r = await probes();
    expect(r.map((x) => x.ok)).toEqual([true, true, false, false, false, false, true]);
    const findings = JSON.parse(cli(["doctor", "--netns", lab.ns("host"), "--json"]).stdout).findings as { kind: string; message: string }[];
    const eth2 = findings.filter((f) => f.kind === "asymmetric-reply" && / arriving on eth2 /.test(f.message)).map((f) => f.message.split(" ")[2]);
    expect(eth2.sort()).toEqual(["192.0.2.31", "2001:db8:2::31"]);
  });

  it("with symroute every reply leaves by the uplink it came in on, host and forwarded, and conntrack carries the marks", async () => {
    await lab.exec("host", ["sysctl", "-q", "-w", "net/ipv4/conf/eth2/rp_filter=1"]);
    const applied = cli(["apply", examplePath("uplinks.yaml"), "--netns", lab.ns("host")]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(await rp("eth1")).toBe("2");
    expect(await rp("eth2")).toBe("2");
    const r = await probes();
    expect(r.map((x) => x.ok)).toEqual([true, true, true, true, true, true, true]);

    const local = await conntrackList(lab, "host", ["-p", "tcp", "--orig-dst", UPLINKS.host.isp2.v4, "--dport", String(UPLINKS.port)]);
    expect(local).toMatch(/mark=131072/);
    const forwarded = await conntrackList(lab, "host", ["-p", "tcp", "--orig-dst", UPLINKS.host.isp2.v4, "--dport", String(UPLINKS.forwardedPort)]);
    expect(forwarded).toMatch(/src=10\.10\.0\.2 .*\[ASSURED\] mark=131072/);
    const isp1 = await conntrackList(lab, "host", ["-p", "tcp", "--orig-dst", UPLINKS.host.isp1.v4, "--dport", String(UPLINKS.port)]);
    expect(isp1).toMatch(/mark=65536/);
    const v6 = await conntrackList(lab, "host", ["-f", "ipv6", "-p", "tcp", "--orig-dst", UPLINKS.host.isp2.v6]);
    expect(v6).toMatch(/mark=131072/);
    expect(JSON.parse(cli(["doctor", "--netns", lab.ns("host"), "--json"]).stdout).findings).toEqual([]);
  });

  it("a second apply of the same file changes nothing", () => {
    const again = cli(["apply", examplePath("uplinks.yaml"), "--netns", lab.ns("host"), "--json"]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).changed).toBe(false);
    const plan = cli(["plan", examplePath("uplinks.yaml"), "--netns", lab.ns("host"), "--exit-code"]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain("No changes");
  });

  it("destroy restores rp_filter and the failure comes back", async () => {
    const d = cli(["destroy", "--netns", lab.ns("host")]);
    expect(d.code, d.stderr).toBe(0);
    expect(await rp("eth1")).toBe("0");
    expect(await rp("eth2")).toBe("1");
    const r = await probes();
    expect(r.map((x) => x.ok)).toEqual([true, true, false, false, false, false, true]);
  });
});
