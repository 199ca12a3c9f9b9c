/**
 * The parser of `nft monitor trace` on real output: fixtures/nft-monitor-trace-lb.txt
 * was captured by hand (nft 1.0.6, kernel 6.18) in a namespace where
 * fixtures/nft-monitor-trace-lb.yaml was applied and a trace table like
 * `trace --live`'s marked a client's packets to the VIP: two TCP connections
 * (source ports 40001, 40002) and one UDP datagram (40003). The echo servers
 * answered "a", "b", "b": the targets the parser must name.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { balancerOf, flowText, parseTraceLine, selectorMatches, TraceCollector, traceTableCleanup, traceTableCommands, type LivePacket } from "../../src/trace/liveTrace.js";
import { routedPacket, withEntry } from "../../src/trace/liveRun.js";
import { loadConfigText } from "../../src/config/load.js";
import { compile } from "../../src/compile/index.js";
import { classifyEvent } from "../../src/daemon/events.js";

const dir = join(import.meta.dirname, "fixtures");
const lines = readFileSync(join(dir, "nft-monitor-trace-lb.txt"), "utf8").split("\n");
const hooks = new Map([
  ["inet symroute lb_prerouting", "prerouting"],
  ["inet symroute lb_output", "output"],
]);

function collect(input: string[]): LivePacket[] {
  const c = new TraceCollector(hooks);
  for (const l of input) c.add(l);
  c.flush();
  return c.packets();
}

describe("nft monitor trace parser", () => {
  it("reads a rule line: rule text without counters, comment, verdict", () => {
    const ev = parseTraceLine(
      'trace id 277c11f4 inet symroute lb0_in4 rule meta l4proto { tcp, udp } th dport 80 counter packets 11 bytes 567 goto lb0_ports4 comment "web: flow web" (verdict goto lb0_ports4)',
    );
    expect(ev).toEqual({ id: "277c11f4", family: "inet", table: "symroute", chain: "lb0_in4", kind: "rule", rule: "meta l4proto { tcp, udp } th dport 80 goto lb0_ports4", comment: "web: flow web", verdict: "goto lb0_ports4" });
    expect(parseTraceLine("trace id 277c11f4 inet symroute lb_prerouting policy accept meta mark 0x00010000 ")).toMatchObject({ kind: "policy", verdict: "accept", mark: 0x10000 });
    expect(parseTraceLine("something else")).toBeNull();
  });

  it("reads the flow from a packet line", () => {
    const ev = parseTraceLine(lines[0])!;
    expect(ev.kind).toBe("packet");
    expect(ev.packet).toEqual({ family: 4, src: "10.99.0.2", dst: "20.0.0.1", proto: "tcp", sport: 40001, dport: 80, iif: "e0", tcpFlags: "syn" });
    expect(flowText(ev.packet!)).toBe("tcp 10.99.0.2:40001 -> 20.0.0.1:80");
  });

  it("groups the captured output into packets, reused trace ids included, and names each one's target and mark", () => {
    const packets = collect(lines);
    // 5 + 5 packets of the two TCP connections (syn, ack, fin, ...) and one datagram: 11 lines of the trace table's "packet:"
    expect(packets.length).toBe(lines.filter((l) => / symroute_trace pre packet: /.test(l)).length);
    const ids = packets.map((p) => p.id);
    expect(new Set(ids).size).toBeLessThan(ids.length); // the kernel reused an id: still two packets
    const bySport = new Map<number, Set<string>>();
    for (const p of packets) {
      expect(p.hook).toBe("prerouting");
      expect(p.verdict).toBe("accept");
      expect(p.balancer?.name).toBe("web");
      expect(p.balancer?.flow).toBe("web");
      expect(p.balancer?.source).toBe("table");
      const s = bySport.get(p.flow.sport!) ?? new Set();
      s.add(`${p.balancer!.target} ${p.balancer!.mark!.toString(16)} ${p.mark.toString(16)} ${p.balancer!.chain}`);
      bySport.set(p.flow.sport!, s);
      expect(p.steps.map((s) => s.chain)).toEqual(["lb_prerouting", "lb0_in4", "lb0_ports4", p.balancer!.chain, "lb_prerouting"]);
      expect(p.steps[2].comment).toBe("web: Maglev lookup");
    }
    expect([...bySport.get(40001)!]).toEqual(["a 10000 10000 lb0_t_1a80b1b3"]);
    expect([...bySport.get(40002)!]).toEqual(["b 20000 20000 lb0_t_82c46232"]);
    expect([...bySport.get(40003)!]).toEqual(["b 20000 20000 lb0_t_82c46232"]);
    expect(packets.find((p) => p.flow.sport === 40003)!.flow.proto).toBe("udp");
  });

  it("the entry symroute computes for each flow is one the kernel's table gives to the target it jumped to", () => {
    const loaded = loadConfigText(readFileSync(join(dir, "nft-monitor-trace-lb.yaml"), "utf8"), "lb.yaml");
    if (!loaded.ok) throw new Error("fixture config");
    const balancers = compile(loaded.value, { links: {}, rpFilter: {} }).desired.balancers!;
    for (const p of collect(lines)) {
      const hit = withEntry(p.balancer!, p, balancers)!;
      expect(hit.entry).toBeGreaterThanOrEqual(0);
      expect(hit.size).toBe(257);
      expect(hit.entryOwner).toBe(hit.target);
    }
  });

  it("the routed packet carries the mark it left prerouting with, the interface and the ports", () => {
    const p = collect(lines)[0];
    expect(routedPacket(p)).toEqual({ family: 4, src: "10.99.0.2", dst: "20.0.0.1", iif: "e0", mark: 0x10000, proto: 6, sport: 40001, dport: 80 });
  });

  it("a packet that started before the monitor listened is left out; a later forward chain does not change the routing mark", () => {
    const first = lines.slice(0, 9);
    const mid = lines.slice(3, 9).map((l) => l.replace("277c11f4", "deadbeef"));
    const later = [
      "trace id 277c11f4 inet other fwd packet: iif \"e0\" oif \"t1\" ip saddr 10.99.0.2 ip daddr 20.0.0.1 ip protocol tcp tcp sport 40001 tcp dport 80",
      "trace id 277c11f4 inet other fwd rule meta mark set 0x00000007 (verdict continue)",
      "trace id 277c11f4 inet other fwd policy accept meta mark 0x00000007",
    ];
    const hooked = new Map([...hooks, ["inet other fwd", "forward"]]);
    const c = new TraceCollector(hooked);
    for (const l of [...mid, ...first, ...later]) c.add(l);
    const ps = c.flush();
    expect(ps.length).toBe(1);
    expect(ps[0].mark).toBe(0x10000);
    expect(ps[0].baseChains).toEqual(["inet symroute_trace pre", "inet symroute lb_prerouting", "inet other fwd"]);
    expect(ps[0].steps.every((s) => s.table === "inet symroute")).toBe(true);
  });

  it("settle ends packets that went quiet", () => {
    const c = new TraceCollector(hooks);
    for (const l of lines.slice(0, 9)) c.add(l, 1000);
    expect(c.settle(1100)).toEqual([]);
    expect(c.settle(1300).length).toBe(1);
  });

  it("flow memory: a rule whose comment says so is the source; a memory miss leaves the choice to the table", () => {
    // synthetic lines in the captured ones' form (test/kernel/traceLive.test.ts traces the real flow memory)
    const hit = [
      'trace id 1 inet symroute lb0_in4 rule meta l4proto { tcp, udp } th dport 80 goto lb0_ports4 comment "web: flow web" (verdict goto lb0_ports4)',
      'trace id 1 inet symroute lb0_ports4 rule meta mark set ip saddr . ip daddr . th sport . th dport map @lb0_fm4 comment "web: flow memory of b" (verdict jump lb0_t_82c46232)',
      'trace id 1 inet symroute lb0_t_82c46232 rule meta mark set 0x00020000 comment "web: target b" (verdict continue)',
    ].map((l) => parseTraceLine(l)!);
    expect(balancerOf(hit.map((e) => ({ table: "inet symroute", chain: e.chain, kind: "rule" as const, rule: e.rule, comment: e.comment, verdict: e.verdict })))).toEqual({
      name: "web",
      flow: "web",
      source: "memory",
      chain: "lb0_t_82c46232",
      target: "b",
      mark: 0x20000,
    });
    const miss = [
      { table: "inet symroute", chain: "lb0_ports4", kind: "rule" as const, rule: "ip saddr . ip daddr vmap @lb0_fm4", comment: "web: flow memory of a", verdict: "continue" },
      { table: "inet symroute", chain: "lb0_ports4", kind: "rule" as const, rule: "meta mark set jhash ip saddr mod 257 seed 0x1 meta mark vmap @lb0_m4", comment: "web: Maglev lookup", verdict: "jump lb0_t_1a80b1b3" },
      { table: "inet symroute", chain: "lb0_t_1a80b1b3", kind: "rule" as const, rule: "meta mark set 0x00010000", comment: "web: target a", verdict: "continue" },
    ];
    expect(balancerOf(miss)).toMatchObject({ source: "table", target: "a", chain: "lb0_t_1a80b1b3" });
  });
});

describe("nft monitor trace parser, IPv6 (captured the same way, dual-stack config)", () => {
  const lines6 = readFileSync(join(dir, "nft-monitor-trace-lb6.txt"), "utf8").split("\n");

  it("IPv6 TCP packets name target a with entries the applied table gives to a; a ping no flow takes is dropped", () => {
    const loaded = loadConfigText(readFileSync(join(dir, "nft-monitor-trace-lb.yaml"), "utf8"), "lb.yaml");
    if (!loaded.ok) throw new Error("fixture config");
    const balancers = compile(loaded.value, { links: {}, rpFilter: {} }).desired.balancers!;
    const packets = collect(lines6);
    // four packets of one TCP connection, then two pings (the first traced as the trace table was being removed)
    expect(packets.map((p) => p.flow.proto)).toEqual(["tcp", "tcp", "tcp", "tcp", "ipv6-icmp", "ipv6-icmp"]);
    const [tcp, ping] = [packets.slice(0, 4), packets[5]];
    for (const p of tcp) {
      expect(p.flow).toMatchObject({ family: 6, src: "2001:db8:99::2", dst: "2000::1", proto: "tcp", sport: 41005, dport: 80, iif: "e0" });
      expect(p.balancer).toMatchObject({ name: "web", source: "table", target: "a", mark: 0x10000, chain: "lb0_t_1a80b1b3" });
      expect(withEntry(p.balancer!, p, balancers)).toMatchObject({ entryOwner: "a", size: 257 });
      expect(routedPacket(p)).toEqual({ family: 6, src: "2001:db8:99::2", dst: "2000::1", iif: "e0", mark: 0x10000, proto: 6, sport: 41005, dport: 80 });
    }
    expect(flowText(tcp[0].flow)).toBe("tcp [2001:db8:99::2]:41005 -> [2000::1]:80");
    // the trace table's own rule, added after the monitor started, is "unknown rule handle 2" to nft: ignored
    expect(lines6.some((l) => / symroute_trace pre unknown rule handle \d+/.test(l))).toBe(true);
    expect(ping.flow).toMatchObject({ family: 6, proto: "ipv6-icmp" });
    expect(ping.verdict).toBe("drop");
    expect(ping.balancer).toEqual({ name: "web", noFlow: true });
    expect(ping.steps.map((s) => s.comment)).toEqual(["web: to a VIP", "web: no flow matched"]);
  });
});

describe("the daemon and a live trace", () => {
  it("a traced packet through symroute's chains is no change to them; the trace table's own commands are not symroute's", () => {
    const scope = { tables: new Set<number>(), interfaces: new Set<string>() };
    for (const l of lines.filter(Boolean)) expect(classifyEvent("nft", l, scope)).toBeNull();
    for (const c of traceTableCommands({ dst: "20.0.0.1" }))
      expect(classifyEvent("nft", `add rule inet symroute_trace pre ip daddr 20.0.0.1 meta nftrace set 1 comment "${String((c.add as { rule?: { comment: string } } | undefined)?.rule?.comment ?? "")}"`, scope)).toBeNull();
    expect(classifyEvent("nft", "delete rule inet symroute lb0_in4 handle 7", scope)).toBe("nft");
  });
});

describe("trace table", () => {
  it("matches the selector in JSON, replaces a stale table and is deleted without failing when gone", () => {
    const cmds = traceTableCommands({ src: "10.99.0.0/24", dst: "20.0.0.1", proto: 6, dport: 80 });
    expect(cmds.slice(0, 3)).toEqual([
      { add: { table: { family: "inet", name: "symroute_trace" } } },
      { delete: { table: { family: "inet", name: "symroute_trace" } } },
      { add: { table: { family: "inet", name: "symroute_trace" } } },
    ]);
    const chains = cmds.filter((c) => "chain" in ((c.add as object | undefined) ?? {})).map((c) => (c.add as { chain: { hook: string; prio: number } }).chain);
    expect(chains.map((c) => [c.hook, c.prio])).toEqual([["prerouting", -350], ["output", -350]]);
    expect(selectorMatches({ src: "10.99.0.0/24", dst: "20.0.0.1", proto: 6, dport: 80 })).toEqual([
      { match: { op: "==", left: { payload: { protocol: "ip", field: "saddr" } }, right: { prefix: { addr: "10.99.0.0", len: 24 } } } },
      { match: { op: "==", left: { payload: { protocol: "ip", field: "daddr" } }, right: "20.0.0.1" } },
      { match: { op: "==", left: { meta: { key: "l4proto" } }, right: 6 } },
      { match: { op: "==", left: { payload: { protocol: "th", field: "dport" } }, right: 80 } },
    ]);
    // --iif: arriving packets only, no output chain
    expect(traceTableCommands({ iif: 'e0"; flush ruleset' }).filter((c) => "chain" in ((c.add as object | undefined) ?? {})).length).toBe(1);
    expect(selectorMatches({ dport: 53 })[0]).toEqual({ match: { op: "==", left: { meta: { key: "l4proto" } }, right: { set: [6, 17, 33, 132, 136] } } });
    expect(traceTableCleanup()).toEqual([{ add: { table: { family: "inet", name: "symroute_trace" } } }, { delete: { table: { family: "inet", name: "symroute_trace" } } }]);
  });
});
