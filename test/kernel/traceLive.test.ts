/**
 * `symroute trace --live` on a real balancer: a client, a frontend and two
 * targets in namespaces (named tl...), the frontend balancing a VIP over the
 * targets. While the trace runs in the frontend, the client talks TCP and UDP
 * to the VIP; each traced packet must name the target that answered, its
 * mark and its table, and the kernel's route through that target. The trace
 * table is gone afterwards: after the count, after the time ran out with no
 * packet (exit 4), after SIGTERM, and a stale one from a killed run is
 * replaced.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { cli, cliAsync, configFile, isRoot } from "../helpers/kernel.js";

/** The lab's namespaces start with `tl`. */
class TlLab extends Lab {
  private readonly tag = `tl${process.pid % 100000}`;
  override ns(host: string): string {
    return `${this.tag}-${host}`;
  }
}

const VIP = "20.0.0.1";
const CONFIG = `version: 1
loadBalancers:
  - name: web
    vips: [${VIP}]
    flows:
      - name: web
        priority: 1
        protocols: [tcp, udp]
        destinationPorts: ["80"]
    targets:
      - { name: a, via: 10.99.1.2, interface: t1 }
      - { name: b, via: 10.99.2.2, interface: t2 }
`;

interface Report {
  n: number;
  flow: { src: string; dst: string; proto: string; sport: number; dport: number; iif: string; tcpFlags?: string };
  hook: string;
  steps: { chain: string; comment?: string; verdict?: string }[];
  balancer: { name: string; flow: string; source: string; target: string; mark: number; entry: number; size: number; entryOwner: string };
  mark: number;
  verdict: string;
  rules: string[];
  route: { type: string; table: string; dev: string; via: string };
}

describe.skipIf(!isRoot)("trace --live", () => {
  const lab = new TlLab("live");
  const fe = () => lab.ns("fe");
  let targets: Record<string, { mark: number; table: number; interface: string; via: string }> = {};

  const traceTables = async () => (await lab.exec("fe", ["nft", "list", "tables"])).stdout;
  // -t: how long socat waits for the answer after sending (its default, 0.5 s, is short on a busy machine); TCP sends
  // nothing: data the target's `echo` never reads would make it answer with a reset, which can overtake its answer
  const tcp = (sport: number) => lab.exec("c", ["timeout", "6", "socat", "-t3", "-T3", "-", `TCP4:${VIP}:80,sourceport=${sport},reuseaddr`], "", true);
  const udp = (sport: number) => lab.exec("c", ["timeout", "6", "socat", "-t1", "-T1", "-", `UDP4:${VIP}:80,sourceport=${sport},reuseaddr`], "hello\n", true);
  /** The target whose input hook saw packets from this source port (each target records them in an nft set): who received the flow, whatever it answered. */
  const receiver = async (proto: "tcp" | "udp", sport: number): Promise<string | null> => {
    const got: string[] = [];
    for (const t of ["a", "b"]) {
      const out = (await lab.exec(t, ["nft", "-j", "list", "set", "inet", "seen", `${proto}ports`])).stdout;
      const elems = (JSON.parse(out) as { nftables: { set?: { elem?: number[] } }[] }).nftables.find((o) => o.set)?.set?.elem ?? [];
      if (elems.includes(sport)) got.push(t);
    }
    expect(got.length, `${proto} ${sport} received by ${got.join(", ") || "no target"}`).toBe(1);
    return got[0];
  };

  beforeAll(async () => {
    await lab.addHosts("c", "fe", "a", "b");
    await lab.link("c", "c0", "fe", "e0");
    await lab.link("a", "eth0", "fe", "t1");
    await lab.link("b", "eth0", "fe", "t2");
    await lab.addr("c", "c0", "10.99.0.2/24");
    await lab.addr("fe", "e0", "10.99.0.1/24");
    await lab.addr("fe", "t1", "10.99.1.1/24");
    await lab.addr("fe", "t2", "10.99.2.1/24");
    await lab.addr("a", "eth0", "10.99.1.2/24");
    await lab.addr("b", "eth0", "10.99.2.2/24");
    await lab.route("c", VIP, "via", "10.99.0.1");
    for (const [t, gw] of [["a", "10.99.1.1"], ["b", "10.99.2.1"]]) {
      await lab.addr(t, "lo", `${VIP}/32`);
      await lab.route(t, "default", "via", gw);
      // each target answers with its name, over TCP and UDP
      lab.background(t, ["socat", `TCP4-LISTEN:80,bind=${VIP},fork,reuseaddr`, `EXEC:echo ${t}`]);
      lab.background(t, ["socat", `UDP4-RECVFROM:80,bind=${VIP},fork`, `EXEC:echo ${t}`]);
      const seen = (proto: string) => ({ set: { op: "add", elem: { payload: { protocol: proto, field: "sport" } }, set: `@${proto}ports` } });
      await lab.nft(t, [
        { add: { table: { family: "inet", name: "seen" } } },
        ...["tcp", "udp"].map((proto) => ({ add: { set: { family: "inet", table: "seen", name: `${proto}ports`, type: "inet_service" } } })),
        { add: { chain: { family: "inet", table: "seen", name: "in", type: "filter", hook: "input", prio: 0, policy: "accept" } } },
        ...["tcp", "udp"].map((proto) => ({ add: { rule: { family: "inet", table: "seen", chain: "in", expr: [{ match: { op: "==", left: { payload: { protocol: proto, field: "dport" } }, right: 80 } }, seen(proto)] } } })),
      ]);
    }
    const a = cli(["apply", configFile(CONFIG), "--netns", fe()]);
    expect(a.code, a.stderr).toBe(0);
    const show = JSON.parse(cli(["lb", "show", "web", "--netns", fe(), "--json"]).stdout) as { targets: { name: string; mark: string; table: number; interface: string; via: string }[] };
    targets = Object.fromEntries(show.targets.map((t) => [t.name, { mark: Number(t.mark), table: t.table, interface: t.interface, via: t.via }]));
    for (const t of ["a", "b"])
      for (let i = 0; i < 50 && !(await lab.exec(t, ["ss", "-ltnH", "sport = :80"])).stdout.trim(); i++) await new Promise((r) => setTimeout(r, 50));
  });
  afterAll(async () => {
    cli(["destroy", "--netns", fe()]);
    await lab.teardown();
  });

  /** Runs a live trace while `traffic` runs once the trace is in place; returns the CLI's result and what the traffic answered. */
  async function traced(args: string[], traffic: () => Promise<string[]>) {
    const run = cliAsync(["trace", "--live", "--netns", fe(), "--json", ...args]);
    await run.logged("tracing ");
    expect(await traceTables()).toContain("symroute_trace");
    const answers = await traffic();
    const done = await run.done;
    return { done, answers, json: done.stdout ? (JSON.parse(done.stdout) as { stoppedBy: string; packets: Report[] }) : null };
  }

  function expectPathTo(p: Report, target: string) {
    const t = targets[target];
    expect(p.balancer).toMatchObject({ name: "web", flow: "web", source: "table", target, mark: t.mark, size: 257, entryOwner: target });
    expect(p.mark).toBe(t.mark);
    expect(p.verdict).toBe("accept");
    expect(p.steps.map((s) => s.comment).filter(Boolean)).toEqual(["web: to a VIP", "web: flow web", "web: Maglev lookup", `web: target ${target}`]);
    expect(p.rules.join("\n")).toContain(`fwmark 0x${t.mark.toString(16)}/0xff0000 lookup ${t.table}: matched`);
    expect(p.route).toMatchObject({ type: "unicast", table: String(t.table), dev: t.interface, via: t.via });
  }

  it("TCP: three packets of one connection, each naming the target that answered, its mark and table", async () => {
    const { done, answers, json } = await traced(["--proto", "tcp", "--sport", "42001", "--count", "3", "--duration", "20s"], async () => {
      const r = await tcp(42001);
      return [r.stdout.trim(), r.stderr.trim(), String(r.code)];
    });
    expect(done.code, done.stderr).toBe(0);
    const target = (await receiver("tcp", 42001))!;
    // the target that received the connection answered it
    expect(answers[0], answers.join(" / ")).toBe(target);
    expect(json!.stoppedBy).toBe("count");
    expect(json!.packets.length).toBe(3);
    for (const p of json!.packets) {
      expect(p.flow).toMatchObject({ src: "10.99.0.2", dst: VIP, proto: "tcp", sport: 42001, dport: 80, iif: "e0" });
      expect(p.hook).toBe("prerouting");
      expectPathTo(p, target);
    }
    expect(json!.packets.map((p) => p.n)).toEqual([1, 2, 3]);
    expect(done.stderr).toContain("3 packets traced (count reached)");
    expect(await traceTables()).not.toContain("symroute_trace");
  });

  it("UDP from several source ports: every datagram's path names the target that answered it", async () => {
    const sports = [43001, 43002, 43003, 43004, 43005, 43006];
    const { done, answers, json } = await traced(["--from", "10.99.0.0/24", "--to", VIP, "--proto", "udp", "--count", String(sports.length), "--duration", "20s"], async () => {
      const out: string[] = [];
      for (const s of sports) out.push((await udp(s)).stdout.trim());
      return out;
    });
    expect(done.code, done.stderr).toBe(0);
    expect(json!.packets.length).toBe(sports.length);
    const bySport = new Map(json!.packets.map((p) => [p.flow.sport, p]));
    const received: string[] = [];
    for (const s of sports) received.push((await receiver("udp", s))!);
    sports.forEach((s, i) => expectPathTo(bySport.get(s)!, received[i]));
    // both targets were traced, so the test would notice a path naming the wrong one
    expect(new Set(received)).toEqual(new Set(["a", "b"]));
    // an answer, where one came, came from the same target (UDP answers may be lost; the sets above are the proof)
    answers.forEach((a, i) => (a ? expect(a).toBe(received[i]) : undefined));
    expect(await traceTables()).not.toContain("symroute_trace");
  });

  it("text output: the rules, the balancer's choice and the route", async () => {
    const run = cliAsync(["trace", "--live", "--netns", fe(), "--to", VIP, "--proto", "tcp", "--sport", "42002", "--count", "1"]);
    await run.logged("tracing ");
    await tcp(42002);
    const answer = (await receiver("tcp", 42002))!;
    const done = await run.done;
    expect(done.code, done.stderr).toBe(0);
    const t = targets[answer];
    expect(done.stdout).toMatch(new RegExp(`^packet 1: tcp 10\\.99\\.0\\.2:42002 -> 20\\.0\\.0\\.1:80 arriving on e0 \\(syn\\)$`, "m"));
    expect(done.stdout).toMatch(new RegExp(`# web: Maglev lookup -> jump lb0_t_[0-9a-f]{8}`));
    expect(done.stdout).toMatch(new RegExp(`balancer web: flow web, Maglev entry \\d+ of 257 \\(from the table\\) -> target ${answer}, mark 0x${t.mark.toString(16).padStart(8, "0")}`));
    expect(done.stdout).toContain(`=> unicast dev ${t.interface} via ${t.via}`);
  });

  it("flow memory: a connection's first packet is chosen by the table, the rest by the memory, all to the same target", async () => {
    const withMemory = CONFIG.replace("    targets:", "    flowMemory: { timeout: 60s }\n    targets:");
    const a = cli(["apply", configFile(withMemory), "--netns", fe()]);
    expect(a.code, a.stderr).toBe(0);
    try {
      const { done, json } = await traced(["--proto", "tcp", "--sport", "42010", "--count", "3", "--duration", "20s"], async () => [(await tcp(42010)).stdout.trim()]);
      expect(done.code, done.stderr).toBe(0);
      const target = (await receiver("tcp", 42010))!;
      const [first, ...rest] = json!.packets;
      expect(first.flow.tcpFlags).toBe("syn");
      expect(first.balancer).toMatchObject({ source: "table", target, entryOwner: target });
      // a SYN never asks the memory: it takes the table's decision (issue 19)
      expect(first.steps.map((s) => s.comment)).toContain("web: a new connection takes the table's decision");
      for (const p of rest) {
        expect(p.balancer).toMatchObject({ source: "memory", target, mark: targets[target].mark });
        expect(p.balancer.entry).toBeUndefined();
        expect(p.steps.map((s) => s.comment)).toContain(`web: flow memory of ${target}`);
        expect(p.route).toMatchObject({ table: String(targets[target].table), dev: targets[target].interface });
      }
    } finally {
      expect(cli(["apply", configFile(CONFIG), "--netns", fe()]).code).toBe(0);
    }
  });

  it("no packet within the time: exit 4 and a clear message; a stale trace table is replaced and removed", async () => {
    await lab.nft("fe", [
      { add: { table: { family: "inet", name: "symroute_trace" } } },
      { add: { chain: { family: "inet", table: "symroute_trace", name: "stale", type: "filter", hook: "prerouting", prio: -350, policy: "accept" } } },
    ]);
    const r = cli(["trace", "--live", "--netns", fe(), "--to", VIP, "--dport", "9999", "--duration", "600ms"]);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain("no packet matched any -> 20.0.0.1 port 9999 within 600ms; the trace table is removed");
    expect(r.stdout).toBe("");
    expect(await traceTables()).not.toContain("symroute_trace");
  });

  it("SIGTERM ends the trace: the packets so far are printed, the trace table is removed", async () => {
    const run = cliAsync(["trace", "--live", "--netns", fe(), "--json", "--to", VIP, "--proto", "tcp", "--sport", "42003", "--count", "1000", "--duration", "60s"]);
    await run.logged("tracing ");
    await tcp(42003);
    const answer = (await receiver("tcp", 42003))!;
    await new Promise((r) => setTimeout(r, 500));
    run.child.kill("SIGTERM");
    const done = await run.done;
    expect(done.code, done.stderr).toBe(0);
    const json = JSON.parse(done.stdout) as { stoppedBy: string; packets: Report[] };
    expect(json.stoppedBy).toBe("signal");
    expect(json.packets.length).toBeGreaterThanOrEqual(3);
    for (const p of json.packets) expectPathTo(p, answer);
    expect(await traceTables()).not.toContain("symroute_trace");

    // and with nothing seen yet: exit 4
    const idle = cliAsync(["trace", "--live", "--netns", fe(), "--to", VIP, "--dport", "9999", "--duration", "60s"]);
    await idle.logged("tracing ");
    idle.child.kill("SIGTERM");
    const idleDone = await idle.done;
    expect(idleDone.code).toBe(4);
    expect(idleDone.stderr).toContain("before the trace was interrupted");
    expect(await traceTables()).not.toContain("symroute_trace");
  });

  it("bad selectors: exit 1 before anything is added", async () => {
    const bad = (args: string[], message: RegExp) => {
      const r = cli(["trace", "--live", "--netns", fe(), ...args]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(message);
    };
    bad(["--from", "10.0.0.1", "--to", "2000::1"], /different address families/);
    bad(["--to", "20.0.0.1/33"], /--to: '20\.0\.0\.1\/33' is not an IPv4 or IPv6 address or prefix/);
    bad(["--iif", "nope0"], /--iif: no interface named 'nope0'/);
    bad(["--count", "0"], /--count: '0' is not a number from 1/);
    bad(["--duration", "soon"], /--duration: 'soon' is not a duration/);
    bad(["--reply"], /--reply cannot be used with --live/);
    expect(await traceTables()).not.toContain("symroute_trace");
  });
});
