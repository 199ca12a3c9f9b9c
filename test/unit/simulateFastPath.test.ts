/**
 * The simulator's fast path (issue 19): a packet the netdev ingress chain takes
 * is forwarded to the target the routed path would choose, with no routing;
 * what the fast path leaves (fragments, TTL 1, ICMP, ports of no flow, other
 * interfaces) is said so and walked through the routed path. A SYN with flow
 * memory takes the table's decision.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfigText } from "../../src/config/load.js";
import { compile } from "../../src/compile/index.js";
import { trace } from "../../src/simulate/trace.js";
import { balancerTarget } from "../../src/simulate/balancer.js";
import type { KernelView, Packet } from "../../src/simulate/types.js";

const dir = join(import.meta.dirname, "..", "golden", "load-balancer-fastpath");
const loaded = loadConfigText(readFileSync(join(dir, "config.yaml"), "utf8"), "config.yaml");
if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
const desired = compile(loaded.value, JSON.parse(readFileSync(join(dir, "facts.json"), "utf8"))).desired;
const b = desired.balancers![0];
const empty: KernelView = { rules: [], routes: [], addresses: [] };
const client = "198.51.100.2";
const tcp = (sport: number, extra: Partial<Packet> = {}): Packet => ({ family: 4, src: client, dst: "20.0.0.1", iif: "ext-vlan0", proto: 6, sport, dport: 4000, ...extra });
const text = (steps: { text: string }[]) => steps.map((s) => s.text).join("\n");

describe("simulated fast path", () => {
  it("forwards a port flow arriving on an ingress interface to the routed path's target, without routing", () => {
    for (let sport = 30000; sport < 30200; sport++) {
      const t = trace(empty, { balancers: desired.balancers }, tcp(sport));
      const expected = balancerTarget(b, client, "20.0.0.1", { sport, dport: 4000 })!.target;
      expect(t.result).toEqual({ type: "unicast", dev: expected.interface, via: expected.via });
      expect(text(t.steps)).toContain(`fast path (netdev ingress on ext-vlan0): fwd ip to ${expected.via} device ${expected.interface}`);
    }
    const v6 = trace(empty, { balancers: desired.balancers }, { family: 6, src: "2001:db8:100::2", dst: "2000::1", iif: "ext-vlan0", proto: 17, sport: 1234, dport: 5005 });
    expect(v6.result.via).toMatch(/^fd00:/);
    expect(text(v6.steps)).toContain("fwd ip6 to");
  });

  it("says why a packet falls through, and walks it through the routed path", () => {
    const cases: [Partial<Packet>, string][] = [
      [{ fragment: true }, "a fragment"],
      [{ ttl: 1 }, "TTL 1"],
      [{ proto: 1, sport: undefined, dport: undefined }, "ICMP"],
      [{ dport: 4001 }, "no flow of the balancer matches it"],
    ];
    for (const [extra, why] of cases) {
      const t = trace(empty, { balancers: desired.balancers }, tcp(30000, extra));
      expect(text(t.steps)).toContain(`fast path not taken: ${why}`);
      expect(text(t.steps)).not.toContain("netdev ingress on");
    }
    // another interface: no fast path there, and nothing said about it
    const other = trace(empty, { balancers: desired.balancers }, tcp(30000, { iif: "conduit-a" }));
    expect(text(other.steps)).not.toContain("fast path");
  });

  it("a SYN takes the table's decision even when its 4-tuple is remembered on another target", () => {
    const sport = 30001;
    const table = balancerTarget(b, client, "20.0.0.1", { sport, dport: 4000 })!.target;
    const other = b.targets.find((t) => t.name !== table.name)!;
    const remembered = new Map([[b.name, other.name]]);
    expect(trace(empty, { balancers: desired.balancers, remembered }, tcp(sport)).result.via).toBe(other.via);
    const syn = trace(empty, { balancers: desired.balancers, remembered }, tcp(sport, { syn: true }));
    expect(syn.result.via).toBe(table.via);
    expect(text(syn.steps)).toContain("a new TCP connection (SYN): the Maglev table decides");
  });
});
