/**
 * Differential test: generated rule sets and tables are loaded into a real
 * namespace; thousands of packets are decided by the simulator and asked of
 * the kernel (`ip route get ... from ... iif ... mark ... ipproto ... sport
 * ... dport ... uid`); outgoing interface, next hop and source must agree.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { readKernelView, kernelDecisions } from "../../src/engine/simView.js";
import { decide } from "../../src/simulate/route.js";
import type { Packet, RouteResult } from "../../src/simulate/types.js";
import { isRoot } from "../helpers/kernel.js";

const V4 = { pool: ["0.0.0.0/0", "10.0.0.0/8", "10.0.0.0/24", "10.1.0.0/16", "10.5.0.0/16", "10.5.5.0/24", "10.5.5.5/32", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.7/32"], gw: ["10.0.0.254", "10.1.0.254", "10.2.0.254"], dsts: ["10.0.0.7", "10.1.0.9", "10.5.5.5", "10.5.6.1", "192.0.2.10", "198.51.100.3", "203.0.113.7", "8.8.8.8", "10.0.0.1", "10.2.0.255"], local: ["10.0.0.1", "10.1.0.1", "10.2.0.1"], remote: ["198.18.0.5", "10.0.0.9", "192.0.2.77"] };
const V6 = { pool: ["::/0", "2001:db8::/32", "2001:db8::/64", "2001:db8:1::/48", "2001:db8:5::/48", "2001:db8:5:5::/64", "2001:db8:5:5::5/128", "2001:db8:99::/48", "fd00::/8", "2001:db8:7::7/128"], gw: ["2001:db8::fe", "2001:db8:1::fe", "2001:db8:2::fe"], dsts: ["2001:db8::7", "2001:db8:1::9", "2001:db8:5:5::5", "2001:db8:5:6::1", "2001:db8:99::10", "fd00::3", "2001:db8:7::7", "2001:4860::8888", "2001:db8::1"], local: ["2001:db8::1", "2001:db8:1::1", "2001:db8:2::1"], remote: ["2001:db8:77::5", "2001:db8::9", "fd00::77"] };
const DEVS = ["d0", "d1", "d2"];
const ROUNDS = Number(process.env.SIM_ROUNDS ?? 20);

/** A small seeded generator (mulberry32), so every run loads the same rule sets. */
class Rng {
  constructor(private state: number) {}
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  nextInt(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  nextBoolean(): boolean {
    return this.next() < 0.5;
  }
}

function routeLine(rng: Rng, fam: typeof V4): string {
  const pick = <T>(xs: T[]) => xs[rng.nextInt(0, xs.length - 1)];
  const table = pick([100, 101, 102, 254]);
  const dst = pick(fam.pool);
  const metric = pick(["", "metric 10", "metric 20"]);
  const kind = rng.nextInt(0, 9);
  if (kind <= 4) {
    const d = rng.nextInt(0, 2);
    return `route replace ${dst} via ${fam.gw[d]} dev ${DEVS[d]} table ${table} ${metric}`;
  }
  if (kind === 5) return `route replace ${dst} dev ${pick(DEVS)} table ${table} ${metric}`;
  const type = ["blackhole", "unreachable", "prohibit", "throw"][kind - 6];
  return `route replace ${type} ${dst} table ${table} ${metric}`;
}

function ruleLine(rng: Rng, fam: typeof V4, priority: number): string {
  const pick = <T>(xs: T[]) => xs[rng.nextInt(0, xs.length - 1)];
  const w = [`rule add priority ${priority}`];
  if (rng.nextInt(0, 5) === 0) w.push("not");
  if (rng.nextInt(0, 2) === 0) w.push(`from ${pick(fam.pool.slice(1))}`);
  if (rng.nextInt(0, 2) === 0) w.push(`to ${pick(fam.pool.slice(1))}`);
  if (rng.nextInt(0, 3) === 0) w.push(`iif ${pick([...DEVS, "lo"])}`);
  if (rng.nextInt(0, 3) === 0) w.push(`fwmark ${pick(["0x1/0xff", "0x10/0xf0", "0x2"])}`);
  if (rng.nextInt(0, 4) === 0) {
    w.push(`ipproto ${pick(["tcp", "udp"])}`);
    if (rng.nextBoolean()) w.push(`dport ${pick(["80", "1000-2000"])}`);
    if (rng.nextBoolean()) w.push(`sport ${pick(["53", "30000-40000"])}`);
  }
  if (rng.nextInt(0, 6) === 0) w.push(`uidrange ${pick(["0-0", "5-10"])}`);
  const action = rng.nextInt(0, 12);
  if (action <= 8) {
    w.push(`lookup ${pick([100, 101, 102, 254])}`);
    if (rng.nextInt(0, 3) === 0) w.push(`suppress_prefixlength ${pick([0, 8, 24])}`);
  } else if (action === 9) w.push(`goto ${priority + rng.nextInt(1, 50)}`);
  else w.push(pick(["blackhole", "unreachable", "prohibit"]));
  return w.join(" ");
}

function packet(rng: Rng, fam: typeof V4, family: 4 | 6): Packet {
  const pick = <T>(xs: T[]) => xs[rng.nextInt(0, xs.length - 1)];
  const p: Packet = { family, dst: pick(fam.dsts) };
  if (rng.nextInt(0, 2) === 0) {
    p.iif = pick(DEVS);
    p.src = pick(fam.remote);
  } else if (rng.nextBoolean()) p.src = pick(fam.local);
  if (rng.nextBoolean()) p.mark = pick([0, 1, 2, 0x10, 0x11, 0x21]);
  if (rng.nextInt(0, 2) === 0) {
    p.proto = pick([6, 17]);
    p.sport = pick([53, 1234, 35000]);
    p.dport = pick([80, 1500, 443]);
  }
  if (!p.iif && rng.nextInt(0, 4) === 0) p.uid = pick([0, 7, 99]);
  return p;
}

/**
 * Agreement: the same type; when either side is an error, both are, with the same
 * code (ENETUNREACH and EHOSTUNREACH are both `unreachable` but not the same
 * answer); a route that forwards must also agree on device, next hop and source.
 */
function same(a: RouteResult, b: RouteResult): boolean {
  if (a.type !== b.type) return false;
  if (a.error !== undefined || b.error !== undefined) return a.error === b.error;
  if (a.type === "unicast" || a.type === "local" || a.type === "broadcast") return a.dev === b.dev && a.via === b.via && a.src === b.src;
  return true;
}

describe("the differential test's comparison", () => {
  it("tells error codes apart and an error from a route", () => {
    expect(same({ type: "unreachable", error: "ENETUNREACH" }, { type: "unreachable", error: "ENETUNREACH" })).toBe(true);
    expect(same({ type: "unreachable", error: "ENETUNREACH" }, { type: "unreachable", error: "EHOSTUNREACH" })).toBe(false);
    expect(same({ type: "unreachable", error: "EHOSTUNREACH" }, { type: "unreachable" })).toBe(false);
    expect(same({ type: "blackhole", error: "EINVAL" }, { type: "prohibit", error: "EACCES" })).toBe(false);
    expect(same({ type: "unicast", dev: "d0", via: "10.0.0.254" }, { type: "unicast", dev: "d1", via: "10.0.0.254" })).toBe(false);
    expect(same({ type: "local", dev: "lo", src: "10.0.0.1" }, { type: "local", dev: "lo", src: "10.0.0.1" })).toBe(true);
  });
});

describe.skipIf(!isRoot)("simulator against the kernel", () => {
  const lab = new Lab("ts");
  beforeAll(async () => {
    await lab.addHosts("d", "peer");
    for (let i = 0; i < 3; i++) {
      await lab.link("d", DEVS[i], "peer", `p${i}`);
      await lab.addr("d", DEVS[i], `10.${i}.0.1/24`, `2001:db8:${i === 0 ? "" : i}::1/64`.replace("db8:::", "db8::"));
    }
    await lab.forwarding("d");
  });
  afterAll(async () => {
    await lab.teardown();
  });

  it("agrees with ip route get on thousands of packets over generated rule sets (IPv4 and IPv6)", async () => {
    let compared = 0;
    const disagreements: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const rng = new Rng(1000 + round);
      for (const [family, fam] of [[4, V4], [6, V6]] as const) {
        const lines = ["rule flush", "route flush table 100", "route flush table 101", "route flush table 102"];
        await lab.exec("d", ["ip", `-${family}`, "-force", "-batch", "-"], lines.join("\n") + "\n", true);
        // rule flush keeps the default rules; reload ours and the routes
        const batch: string[] = [];
        for (let i = 0; i < 14; i++) batch.push(routeLine(rng, fam));
        const prios = Array.from({ length: 8 }, () => rng.nextInt(100, 500)).sort((a, b) => a - b);
        prios.forEach((p) => batch.push(ruleLine(rng, fam, p)));
        await lab.exec("d", ["ip", `-${family}`, "-force", "-batch", "-"], batch.join("\n") + "\n", true);
        const view = await readKernelView(lab.runner("d"));
        const packets = Array.from({ length: 250 }, () => packet(rng, fam, family));
        const kernel = await kernelDecisions(lab.runner("d"), packets);
        let dumped = false;
        for (const [i, p] of packets.entries()) {
          const sim = decide(view, p).result;
          compared++;
          if (same(sim, kernel[i])) continue;
          disagreements.push(`${JSON.stringify(p)}\n  kernel ${JSON.stringify(kernel[i])}\n  sim    ${JSON.stringify(sim)}`);
          if (process.env.SIM_DEBUG && !dumped) {
            dumped = true;
            console.log((await lab.exec("d", ["ip", "rule"])).stdout, (await lab.exec("d", ["ip", `-${p.family}`, "rule"])).stdout, (await lab.exec("d", ["ip", `-${p.family}`, "route", "show", "table", "100"])).stdout, JSON.stringify(view.routes.filter((r) => r.table === 100 && r.family === p.family).map((r) => r.text)), JSON.stringify(p), decide(view, p).steps);
          }
        }
      }
      // main table routes added by the generator must not leak into the next round
      for (const family of [4, 6]) await lab.exec("d", ["ip", `-${family}`, "route", "flush", "proto", "boot"], undefined, true);
    }
    console.log(`simulator vs kernel: ${compared} packets compared, ${disagreements.length} disagreements`);
    if (process.env.SIM_DEBUG) for (const d of disagreements.slice(0, 60)) console.log(d);
    expect(disagreements.slice(0, 5)).toEqual([]);
    expect(compared).toBeGreaterThanOrEqual(ROUNDS * 500);
  });
});
