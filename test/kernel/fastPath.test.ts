/**
 * The load balancer's fast path (issue 19) in real namespaces: the flows of the
 * VIPs arriving on ext-vlan0 are forwarded at ingress (netdev table, nft fwd)
 * to the target the routed path would choose, IPv4 and IPv6, TCP and UDP;
 * fragments, pings, TTL 1 and other ports take the routed path and stay
 * correct; plan, drift and convergence cover the netdev table; a conduit
 * narrower than the ingress interface is refused; with flow memory, a drained
 * target gets no new connection, not even one reusing a remembered 4-tuple.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { Lab } from "../../src/lab/lab.js";
import { buildLoadBalancer, LB, probe } from "../../src/lab/loadBalancer.js";
import { examplePath } from "../../src/lab/examples.js";
import { cli, configFile, isRoot, kernelSnapshot, killDaemon, startDaemon, type CliRun } from "../helpers/kernel.js";
import { loadConfigText } from "../../src/config/load.js";
import { compile } from "../../src/compile/index.js";
import { trace } from "../../src/simulate/trace.js";
import { reconcile } from "../../src/engine/index.js";
import { FaultyRunner } from "../helpers/faulty.js";

const base = readFileSync(examplePath("load-balancer.yaml"), "utf8");
const fast = (text: string) => text.replace("    flows:", "    fastPath: { ingress: [ext-vlan0] }\n    flows:");
const memory = (text: string) => text.replace("    flows:", "    flowMemory: { timeout: 120s }\n    flows:");
const withoutD = (text: string) => text.replace(/\n      - \{ name: target-d[^\n]*/, "");
const sports = Array.from({ length: 200 }, (_, i) => 21000 + i * 7);

describe.skipIf(!isRoot)("load balancer fast path", () => {
  const lab = new Lab("fp", "hf");
  const fe = () => lab.ns("fe");
  let daemon: CliRun | undefined;

  beforeAll(async () => {
    await buildLoadBalancer(lab);
  });
  afterAll(async () => {
    killDaemon(daemon);
    cli(["destroy", "--netns", fe()]);
    await lab.teardown();
  });

  const apply = (text: string, name = "fast.yaml") => {
    const r = cli(["apply", configFile(text, name), "--netns", fe(), "--json"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    return JSON.parse(r.stdout) as { changed: boolean; plan: { nft: { action: string }; nftNetdev: { action: string } } };
  };
  const tcp = (vip: string, ports: number[]) => probe(lab, { vip, port: LB.tcpPort, sports: ports });
  const udp = async (vip: string, ports: number[], payload = 16) => (await probe(lab, { vip, port: LB.udpPort, sports: ports, proto: "udp", payload })).map((r) => r?.split(" ")[0] ?? null);

  /** Packets forwarded by the fast path (its per-target counters) and matched by the routed path's flow rules. */
  async function counters(): Promise<{ fast: number; routed: number }> {
    const sum = async (family: string, comment: RegExp) => {
      const r = await lab.exec("fe", ["nft", "-j", "list", "table", family, "symroute"], undefined, true);
      if (r.code !== 0) return 0;
      const objects = (JSON.parse(r.stdout) as { nftables: { rule?: { comment?: string; expr: { counter?: { packets: number } }[] } }[] }).nftables;
      let n = 0;
      for (const o of objects) if (o.rule && comment.test(o.rule.comment ?? "")) for (const e of o.rule.expr) n += e.counter?.packets ?? 0;
      return n;
    };
    return { fast: await sum("netdev", /: fast path to /), routed: await sum("inet", /: flow /) };
  }

  it("forwards every flow to the target the routed path chose, IPv4 and IPv6, TCP and UDP, without the routed path", async () => {
    apply(base, "routed.yaml");
    const routed = { t4: await tcp(LB.vip4, sports), t6: await tcp(LB.vip6, sports), u4: await udp(LB.vip4, sports), u6: await udp(LB.vip6, sports) };
    expect(routed.t4.filter((t) => t === null)).toEqual([]);
    const applied = apply(fast(base));
    expect(applied.plan.nftNetdev.action).toBe("create");
    const before = await counters();
    expect(await tcp(LB.vip4, sports)).toEqual(routed.t4);
    expect(await tcp(LB.vip6, sports)).toEqual(routed.t6);
    expect(await udp(LB.vip4, sports)).toEqual(routed.u4);
    expect(await udp(LB.vip6, sports)).toEqual(routed.u6);
    const after = await counters();
    // a TCP connection is at least SYN, ACK and FIN from the client; a UDP probe one datagram
    expect(after.fast - before.fast).toBeGreaterThanOrEqual(2 * 200 * 3 + 2 * 200);
    expect(after.routed - before.routed, "the routed path saw none of these flows").toBe(0);
    // the simulator names the same targets (differential): its fast path forwards to the via of the target that answered
    const loaded = loadConfigText(fast(base), "fast.yaml");
    if (!loaded.ok) throw new Error("config");
    const balancers = compile(loaded.value, { links: {}, rpFilter: {} }).desired.balancers;
    const predicted = sports.map((sport) => trace({ rules: [], routes: [], addresses: [] }, { balancers }, { family: 4, src: LB.client.v4, dst: LB.vip4, iif: "ext-vlan0", proto: 6, sport, dport: LB.tcpPort }).result.via);
    expect(predicted).toEqual(routed.t4.map((name) => LB.targets.find((t) => t.name === name)?.v4));
    const traced = cli(["trace", "--netns", fe(), "--from", LB.client.v4, "--to", LB.vip4, "--iif", "ext-vlan0", "--proto", "tcp", "--sport", String(sports[0]), "--dport", String(LB.tcpPort)]);
    expect(traced.stdout).toContain(`fast path (netdev ingress on ext-vlan0): fwd ip to ${LB.targets.find((t) => t.name === routed.t4[0])!.v4}`);
    const fragment = cli(["trace", "--netns", fe(), "--from", LB.client.v4, "--to", LB.vip4, "--iif", "ext-vlan0", "--proto", "udp", "--sport", "1234", "--dport", String(LB.udpPort), "--fragment"]);
    expect(fragment.stdout).toContain("fast path not taken: a fragment");
    // lb show counts the fast path per target
    const show = JSON.parse(cli(["lb", "show", "stream-a", "--netns", fe(), "--json"]).stdout) as { targets: { name: string; fastPackets?: number }[] };
    for (const t of show.targets) expect(t.fastPackets, t.name).toBeGreaterThan(0);
  });

  it("leaves to the routed path what fwd cannot forward: fragments, pings, TTL 1 and ports of no flow", async () => {
    const few = sports.slice(0, 30);
    const small4 = await udp(LB.vip4, few);
    const c0 = await counters();
    const large4 = await probe(lab, { vip: LB.vip4, port: LB.udpPort, sports: few, proto: "udp", payload: 4000 });
    const large6 = await probe(lab, { vip: LB.vip6, port: LB.udpPort, sports: few, proto: "udp", payload: 4000 });
    expect(large4.every((r) => r !== null && r.endsWith(" 4000")), JSON.stringify(large4)).toBe(true);
    expect(large6.every((r) => r !== null && r.endsWith(" 4000")), JSON.stringify(large6)).toBe(true);
    // reassembled by the routed path and sent to the same target the fast path sends the flow's small datagrams to
    expect(large4.map((r) => r!.split(" ")[0])).toEqual(small4);
    const c1 = await counters();
    expect(c1.fast - c0.fast, "no fragment took the fast path").toBe(0);
    expect(c1.routed - c0.routed).toBeGreaterThanOrEqual(60);

    const ping4 = await lab.exec("tg", ["ping", "-c", "2", "-i", "0.2", "-W", "2", LB.vip4], undefined, true);
    const ping6 = await lab.exec("tg", ["ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", LB.vip6], undefined, true);
    expect(ping4.code, ping4.stdout).toBe(0);
    expect(ping6.code, ping6.stdout).toBe(0);

    // TTL 2 from the client is 1 at the frontend: the routed path answers "time exceeded", from the VIP
    await lab.route("fe", "198.51.100.0/24", "via", "169.254.100.150");
    await lab.route("fe", "2001:db8:100::/64", "via", "100:100::150");
    const ttl4 = await lab.exec("tg", ["ping", "-c", "1", "-W", "2", "-t", "2", LB.vip4], undefined, true);
    const ttl6 = await lab.exec("tg", ["ping", "-6", "-c", "1", "-W", "2", "-t", "2", LB.vip6], undefined, true);
    await lab.exec("fe", ["ip", "route", "del", "198.51.100.0/24"]);
    await lab.exec("fe", ["ip", "-6", "route", "del", "2001:db8:100::/64"]);
    expect(ttl4.stdout).toMatch(/From 20\.0\.0\.1 icmp_seq=1 Time to live exceeded/);
    expect(ttl6.stdout).toMatch(/From 2000::1 icmp_seq=1 Time exceeded: Hop limit/);

    // a port of no flow: not forwarded by the fast path, dropped by the routed path
    expect(await probe(lab, { vip: LB.vip4, port: LB.bigPort, sports: few.slice(0, 3) })).toEqual([null, null, null]);
    const c2 = await counters();
    expect(c2.fast - c1.fast).toBe(0);
  });

  it("plan, verify and drift cover the netdev table: a deleted chain or table is restored, then plan is empty", async () => {
    const file = configFile(fast(base), "fast.yaml");
    expect(cli(["plan", file, "--netns", fe(), "--exit-code"]).code).toBe(0);
    expect(JSON.parse(cli(["apply", file, "--netns", fe(), "--json"]).stdout).changed).toBe(false);
    for (const damage of [["delete", "chain", "netdev", "symroute", "ingress0"], ["delete", "table", "netdev", "symroute"]]) {
      await lab.exec("fe", ["nft", ...damage]);
      const plan = JSON.parse(cli(["plan", file, "--netns", fe(), "--json"]).stdout) as { plan: { nft: { action: string }; nftNetdev: { action: string } } };
      expect(plan.plan.nftNetdev.action, damage.join(" ")).toBe(damage[1] === "table" ? "create" : "replace");
      expect(plan.plan.nft.action).toBe("none");
      expect(cli(["apply", file, "--netns", fe()]).code).toBe(0);
      expect(cli(["plan", file, "--netns", fe(), "--exit-code"]).code).toBe(0);
      expect(JSON.parse(cli(["apply", file, "--netns", fe(), "--json"]).stdout).changed).toBe(false);
    }
    expect((await tcp(LB.vip4, sports.slice(0, 20))).filter((t) => t === null)).toEqual([]);
    // a target change is in place in both tables, in one transaction
    const change = apply(fast(withoutD(base)), "fast-3.yaml");
    expect(change.plan.nft.action).toBe("update");
    expect(change.plan.nftNetdev.action).toBe("update");
    expect((await tcp(LB.vip4, sports)).filter((t) => t === "target-d" || t === null)).toEqual([]);
    apply(fast(base));
    // a target change that fails after the nft transaction (at the IPv4 batch) is rolled back in both tables,
    // ingress chains on their device again (a listing has no device: rollback takes it from the table applied)
    const before = await kernelSnapshot(lab, "fe");
    const loaded = loadConfigText(fast(withoutD(base)), "fast-3.yaml");
    if (!loaded.ok) throw new Error("config");
    const runner = new FaultyRunner(fe(), (argv, stdin) => argv.includes("-batch") && argv.includes("-4") && (stdin ?? "").includes("172.16.1.8"));
    const { outcome } = await reconcile({ netns: fe(), runner, load: () => loaded.value });
    expect(runner.failures).toBe(1);
    expect(outcome.plan.nftNetdev.action).toBe("update");
    const afterSnap = await kernelSnapshot(lab, "fe");
    expect(afterSnap).toBe(before);
    expect(outcome.rolledBack?.restored).toBe(true);
    expect(before).toContain('type filter hook ingress device "ext-vlan0" priority -500; policy accept;');
    // turned off: the netdev table goes, the routed path stays as it was and serves the flows
    const off = apply(base, "off.yaml");
    expect(off.plan.nftNetdev.action).toBe("delete");
    expect(off.plan.nft.action).toBe("none");
    expect((await lab.exec("fe", ["nft", "list", "tables"])).stdout).not.toContain("netdev");
    expect((await tcp(LB.vip4, sports.slice(0, 20))).filter((t) => t === null)).toEqual([]);
    apply(fast(base));
    // destroy removes it with the rest
    expect(cli(["destroy", "--netns", fe()]).code).toBe(0);
    expect((await lab.exec("fe", ["nft", "list", "tables"])).stdout).not.toContain("netdev");
  });

  it("refuses a conduit whose MTU is smaller than the ingress interface's, naming the field", async () => {
    await lab.exec("fe", ["ip", "link", "set", "conduit-b", "mtu", "1400"]);
    const file = configFile(fast(base), "narrow.yaml");
    const applied = cli(["apply", file, "--netns", fe()]);
    const planned = cli(["plan", file, "--netns", fe()]);
    await lab.exec("fe", ["ip", "link", "set", "conduit-b", "mtu", "1500"]);
    for (const r of [applied, planned]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/narrow\.yaml:\d+:\d+: loadBalancers\[0\]\.fastPath\.ingress\[0\]: MTU 1500 of ext-vlan0 is larger than MTU 1400 of conduit conduit-b/);
    }
    expect((await lab.exec("fe", ["nft", "list", "tables"])).stdout).not.toContain("netdev");
  });

  it("with flow memory: a drained target gets no new connection, not even one reusing a remembered 4-tuple; remembered flows stay on the fast path", async () => {
    const file = configFile(fast(memory(base)).concat('daemon:\n  metrics: "off"\n'), "fast-memory.yaml");
    daemon = await startDaemon([file, "--netns", fe()]);
    const oldUdp = await udp(LB.vip4, sports);
    const oldTcp = await tcp(LB.vip4, sports);
    const oldTcp6 = await tcp(LB.vip6, sports);
    expect(oldTcp.filter((t) => t === null)).toEqual([]);
    const drain = cli(["lb", "target", "drain", "stream-a", "target-a", "--timeout", "60s", "--netns", fe()]);
    expect(drain.code, drain.stderr).toBe(0);
    const c0 = await counters();
    const reused = sports.filter((_, i) => oldTcp[i] === "target-a");
    const reused6 = sports.filter((_, i) => oldTcp6[i] === "target-a");
    expect(reused.length).toBeGreaterThan(20);
    const again = await tcp(LB.vip4, reused);
    const again6 = await tcp(LB.vip6, reused6);
    expect(again.filter((t) => t === "target-a" || t === null)).toEqual([]);
    expect(again6.filter((t) => t === "target-a" || t === null)).toEqual([]);
    // UDP flows remembered on target-a stay there, served by the fast path's own flow memory
    expect(await udp(LB.vip4, sports)).toEqual(oldUdp);
    const c1 = await counters();
    expect(c1.routed - c0.routed, "all of it took the fast path").toBe(0);
    expect(cli(["lb", "target", "undrain", "stream-a", "target-a", "--netns", fe()]).code).toBe(0);
    killDaemon(daemon);
    await daemon.done;
  });
});
