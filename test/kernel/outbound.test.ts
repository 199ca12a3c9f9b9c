/**
 * Issue 11 in real namespaces (seed 004's topology): a LAN client behind the
 * host opens 10,000 UDP connections to an address both ISPs answer for; with
 * weights 3:1 three quarters leave by isp1, each masqueraded to the uplink's
 * address (the ISPs drop any other source) and every later packet of a
 * connection follows its first; with isp1 down, every new connection takes isp2.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { Lab } from "../../src/lab/lab.js";
import { buildUplinks, spoofDrops, UPLINKS } from "../../src/lab/uplinks.js";
import { loadConfigText } from "../../src/config/load.js";
import { compile } from "../../src/compile/index.js";
import { readFacts } from "../../src/kernel/facts.js";
import { replaceTableCommands } from "../../src/model/nftTable.js";
import { cli, configFile, isRoot } from "../helpers/kernel.js";
import { inputsOf } from "../../src/compile/inputs.js";

const TARGET = { v4: "100.100.0.1", v6: "2001:db8:ff::1" };
const PORT = 9999;

const CONFIG = `version: 1
uplinks:
  - name: isp1
    interface: eth1
    gateway: 203.0.113.1
    gateway6: 2001:db8:1::1
    weight: 3
  - name: isp2
    interface: eth2
    gateway: 192.0.2.1
    gateway6: 2001:db8:2::1
    weight: 1
outbound:
  - name: lan
    from: [10.10.0.0/24, fd10::/64]
`;

/** Sends `per` datagrams from each of `count` sockets bound to consecutive source ports: one connection each. */
const SENDER = `
const dgram = require("node:dgram");
const [dst, first, count, per, type] = process.argv.slice(1);
const one = (port) => new Promise((resolve, reject) => {
  const s = dgram.createSocket(type);
  s.on("error", reject);
  s.bind(port, async () => {
    for (let k = 0; k < Number(per); k++) await new Promise((ok, ko) => s.send("x", ${PORT}, dst, (e) => (e ? ko(e) : ok())));
    s.close();
    resolve();
  });
});
(async () => {
  const n = Number(count), f = Number(first);
  for (let i = 0; i < n; i += 250) await Promise.all(Array.from({ length: Math.min(250, n - i) }, (_, j) => one(f + i + j)));
})().catch((e) => { console.error(e); process.exit(1); });
`;

describe.skipIf(!isRoot)("outbound policies in namespaces", () => {
  const lab = new Lab("ob");
  const file = configFile(CONFIG, "outbound.yaml");

  beforeAll(async () => {
    await buildUplinks(lab);
    // an address both ISPs answer for, and a count there of what arrives from the host's address on it
    for (const [isp, own] of [["isp1", UPLINKS.host.isp1], ["isp2", UPLINKS.host.isp2]] as const) {
      await lab.addr(isp, "lo", `${TARGET.v4}/32`, `${TARGET.v6}/128`);
      await lab.nft(isp, [
        { add: { table: { family: "inet", name: "seen" } } },
        { add: { chain: { family: "inet", table: "seen", name: "input", type: "filter", hook: "input", prio: 0, policy: "accept" } } },
        ...(["v4", "v6"] as const).map((f) => ({
          add: {
            rule: {
              family: "inet", table: "seen", chain: "input", comment: f,
              expr: [
                { match: { op: "==", left: { payload: { protocol: f === "v4" ? "ip" : "ip6", field: "saddr" } }, right: own[f] } },
                { match: { op: "==", left: { payload: { protocol: "udp", field: "dport" } }, right: PORT } },
                { counter: null },
              ],
            },
          },
        })),
      ]);
    }
  });
  afterAll(async () => {
    await lab.teardown();
  });

  /** Packets counted by the rules of a chain (or with a comment) in one table of a host. */
  const counters = async (host: string, table: string): Promise<Record<string, number>> => {
    const r = await lab.exec(host, ["nft", "-j", "list", "table", "inet", table]);
    const out: Record<string, number> = {};
    for (const o of (JSON.parse(r.stdout) as { nftables: { rule?: { chain: string; comment?: string; expr: { counter?: { packets: number } }[] } }[] }).nftables) {
      if (!o.rule) continue;
      const key = o.rule.comment && table === "seen" ? o.rule.comment : o.rule.chain;
      for (const e of o.rule.expr) if (e.counter) out[key] = (out[key] ?? 0) + e.counter.packets;
    }
    return out;
  };
  const seen = async () => ({ isp1: await counters("isp1", "seen"), isp2: await counters("isp2", "seen") });
  const send = async (dst: string, first: number, count: number, per: number, type: "udp4" | "udp6") => {
    const t0 = Date.now();
    await lab.exec("lan", [process.execPath, "-e", SENDER, dst, String(first), String(count), String(per), type]);
    return Date.now() - t0;
  };

  it("weights 3:1 share 10,000 new connections 75/25 within 2%, masqueraded, later packets on the same uplink", async () => {
    const applied = cli(["apply", file, "--netns", lab.ns("host")]);
    expect(applied.code, applied.stderr).toBe(0);
    const ms = await send(TARGET.v4, 20000, 10000, 2, "udp4");
    const host = await counters("host", "symroute");
    const isp1 = host.outbound_lan_isp1 ?? 0;
    const isp2 = host.outbound_lan_isp2 ?? 0;
    console.log(`outbound: ${isp1} connections by isp1, ${isp2} by isp2 (${((isp1 / 10000) * 100).toFixed(2)}% / ${((isp2 / 10000) * 100).toFixed(2)}%), sent in ${ms} ms`);
    expect(isp1 + isp2).toBe(10000);
    expect(Math.abs(isp1 / 10000 - 0.75)).toBeLessThan(0.02);
    // each connection's two packets arrived at the ISP its first was sent to, from the host's address there
    const at = await seen();
    expect(at.isp1.v4).toBe(2 * isp1);
    expect(at.isp2.v4).toBe(2 * isp2);
    expect(await spoofDrops(lab, "isp1")).toBe(0);
    expect(await spoofDrops(lab, "isp2")).toBe(0);
  });

  it("IPv6 connections are shared and masqueraded too", async () => {
    const before = await counters("host", "symroute");
    await send(TARGET.v6, 20000, 400, 1, "udp6");
    const after = await counters("host", "symroute");
    const by1 = after.outbound_lan_isp1 - before.outbound_lan_isp1;
    const by2 = after.outbound_lan_isp2 - before.outbound_lan_isp2;
    expect(by1 + by2).toBe(400);
    expect(by1).toBeGreaterThan(200);
    expect(by2).toBeGreaterThan(40);
    const at = await seen();
    expect(at.isp1.v6).toBe(by1);
    expect(at.isp2.v6).toBe(by2);
    expect(await spoofDrops(lab, "isp1")).toBe(0);
    expect(await spoofDrops(lab, "isp2")).toBe(0);
  });

  it("with isp1 down every new connection leaves by isp2", async () => {
    const loaded = loadConfigText(readFileSync(file, "utf8"), file);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
    const { desired, warnings } = compile(loaded.value, await readFacts(lab.runner("host")), {}, inputsOf({ uplinksDown: new Set(["isp1"]) }));
    expect(warnings).toContain("outbound lan: uplink isp1 down; new connections by isp2");
    await lab.nft("host", replaceTableCommands(desired.nft!));
    const before = await seen();
    await send(TARGET.v4, 40000, 1000, 1, "udp4");
    const after = await seen();
    expect(after.isp1.v4 - before.isp1.v4).toBe(0);
    expect(after.isp2.v4 - before.isp2.v4).toBe(1000);
    const host = await counters("host", "symroute");
    expect(host.outbound_lan_isp2).toBe(1000);
    expect(host.outbound_lan_isp1 ?? 0).toBe(0);
  });

  it("apply puts the whole choice back, and destroy removes it", () => {
    const applied = cli(["apply", file, "--netns", lab.ns("host"), "--json"]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(JSON.parse(applied.stdout).changed).toBe(true);
    const again = cli(["plan", file, "--netns", lab.ns("host"), "--exit-code"]);
    expect(again.code, again.stdout).toBe(0);
    const d = cli(["destroy", "--netns", lab.ns("host")]);
    expect(d.code, d.stderr).toBe(0);
  });
});
