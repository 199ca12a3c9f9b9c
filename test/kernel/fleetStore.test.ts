/**
 * The fleet's store against real etcd (issue 20): a 3-member cluster in
 * namespaces (test/helpers/etcd.ts), the client over the JSON gateway, the
 * fleet commands. Also measures put-to-watch latency across members and
 * concurrent put throughput (printed).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { EtcdCluster, Events } from "../helpers/etcd.js";
import { EtcdClient } from "../../src/fleet/etcd.js";
import { FleetKeys, fleetRoot } from "../../src/fleet/keys.js";
import { FleetStore } from "../../src/fleet/store.js";
import { FleetWatcher } from "../../src/fleet/watch.js";
import { MemberPublisher } from "../../src/fleet/member.js";
import type { MemberRecord, TargetRecord } from "../../src/fleet/records.js";
import { main } from "../../src/cli/main.js";

const keys = new FleetKeys(fleetRoot("/symroute/", "edge"));
const target = (name: string, owner = "token ci"): TargetRecord => ({
  version: 1, balancer: "stream-a", target: { name, via: "172.16.1.9", interface: "conduit-b" }, registeredAt: new Date().toISOString(), owner, leaseMs: 30_000,
});

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const o = vi.spyOn(process.stdout, "write").mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, "write").mockImplementation((s) => ((err += String(s)), true));
  const before = process.exitCode;
  try {
    const code = await main(["node", "symroute", ...args]);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = before;
  }
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

describe("fleet store on a 3-member etcd", () => {
  const cluster = new EtcdCluster("fs");
  const open: { close(): void }[] = [];
  const watchers: FleetWatcher[] = [];
  const client = (...i: number[]) => {
    const c = new EtcdClient({ endpoints: i.map((n) => cluster.members[n].endpoint), tls: cluster.clientTls, timeoutMs: 1500 });
    open.push(c);
    return c;
  };
  const watch = async (c: EtcdClient) => {
    const ev = new Events();
    const w = new FleetWatcher(c, keys, ev.push, { backoffMs: 100, maxBackoffMs: 500, probeMs: 500 });
    watchers.push(w);
    await w.start();
    return { w, ev };
  };

  beforeAll(async () => {
    await cluster.start();
  }, 60_000);
  afterAll(async () => {
    for (const w of watchers) await w.stop();
    for (const c of open) c.close();
    await cluster.stop();
  });

  it("a target registered through member A is seen by a watch through member C", async () => {
    const { w, ev } = await watch(client(2));
    const store = new FleetStore(client(0), keys);
    await store.registerTarget(target("t-a"), 30_000);
    await ev.waitFor((e) => e.type === "put" && e.key === keys.target("stream-a", "t-a"));
    expect([...w.current().targets.values()].map((t) => t.target.name)).toContain("t-a");
    // another registrant may not take it over
    await expect(store.registerTarget(target("t-a", "token other"), 30_000)).rejects.toThrow(/registered by token ci/);
  });

  it("etcd expires an unrenewed lease and the target leaves; a renewed one stays", async () => {
    const { w, ev } = await watch(client(1));
    const store = new FleetStore(client(0), keys);
    const kept = await store.registerTarget(target("t-kept"), 2000);
    await store.registerTarget(target("t-lapsed"), 2000);
    const renewing = setInterval(() => void store.renew(kept), 500);
    try {
      const gone = await ev.waitFor((e) => e.type === "delete" && e.key === keys.target("stream-a", "t-lapsed"), 10_000);
      expect(gone.type).toBe("delete");
      expect([...w.current().targets.values()].map((t) => t.target.name)).toContain("t-kept");
    } finally {
      clearInterval(renewing);
    }
    expect(await store.renew(kept)).toBe(true);
    expect(await store.removeTarget("stream-a", "t-kept", "token ci")).toBe(true);
    expect(await store.renew(kept)).toBe(false);
  });

  it("a record that fails validation is ignored and reported", async () => {
    const { w, ev } = await watch(client(2));
    const c = client(0);
    const bad = { ...target("t-bad"), target: { name: "t-bad", via: "172.16.1.9", interface: "conduit-b", check: { command: ["sh", "-c", "id"] } } };
    await c.put(keys.target("stream-a", "t-bad"), JSON.stringify(bad));
    const r = await ev.waitFor((e) => e.type === "rejected" && e.rejected.key === keys.target("stream-a", "t-bad"));
    expect(r.type === "rejected" && r.rejected.problems.join(" ")).toMatch(/command/);
    expect(w.current().targets.has(keys.target("stream-a", "t-bad"))).toBe(false);
    // a registrant cannot take over or remove what it cannot read; a frontend's operator can
    const store = new FleetStore(c, keys);
    await expect(store.registerTarget(target("t-bad"), 30_000)).rejects.toThrow(/does not validate/);
    expect(await store.removeTarget("stream-a", "t-bad", "local")).toBe(true);
  });

  it("fleet push refuses an invalid file (exit 1) and stores a valid one as revision N+1; fleet status marks a disagreement", async () => {
    const file = join(cluster.dir, "fleet.yaml");
    writeFileSync(file, `version: 1\nfleet:\n  name: edge\n  etcd:\n    endpoints: [${cluster.endpoints.join(", ")}]\n`);
    const bad = join(cluster.dir, "bad.yaml");
    writeFileSync(bad, "version: 1\nloadBalancers: 7\n");
    const store = new FleetStore(client(1), keys);
    const before = (await store.latestConfig())?.revision.revision ?? 0;
    const refused = await cli(["fleet", "push", bad, "--config", file]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/bad\.yaml:2:16: loadBalancers: expected a list/);
    expect((await store.latestConfig())?.revision.revision ?? 0).toBe(before);
    const pushed = await cli(["fleet", "push", file, "--config", file, "--json"]);
    expect(pushed.code).toBe(0);
    expect(JSON.parse(pushed.out)).toEqual({ revision: before + 1 });
    expect((await store.latestConfig())?.problems).toEqual([]);

    const record = (member: string, down: string[]): MemberRecord => ({
      version: 1, member, appliedRevision: before + 1, targetsDown: down, vipsAnnounced: ["20.0.0.1"], lastReconcile: new Date().toISOString(), storeConnected: true, updatedAt: new Date().toISOString(),
      balancers: { "stream-a": { size: 251, targets: { a: "serving", b: down.length ? "down" : "serving" }, fingerprint: (down.length ? "b" : "a").repeat(64) } },
    });
    const p1 = new MemberPublisher(client(0), keys, "fe1", 5);
    const p2 = new MemberPublisher(client(1), keys, "fe2", 5);
    await p1.publish(record("fe1", []));
    await p2.publish(record("fe2", ["stream-a/b"]));
    try {
      const status = await cli(["fleet", "status", "--config", file, "--json"]);
      expect(status.code).toBe(0);
      const json = JSON.parse(status.out) as { members: MemberRecord[]; disagreements: { member: string; subject: string; detail: string }[] };
      expect(json.members.map((m) => m.member)).toEqual(["fe1", "fe2"]);
      // two members and no majority: both are marked, each against the other
      expect(json.disagreements).toEqual([
        { member: "fe1", subject: "balancer stream-a", detail: "b is serving, down on fe2" },
        { member: "fe2", subject: "balancer stream-a", detail: "b is down, serving on fe1" },
      ]);
      const text = await cli(["fleet", "status", "--config", file]);
      expect(text.out).toMatch(/! fe2: balancer stream-a: b is down, serving on fe1/);
      expect(text.out).toMatch(/lb stream-a +!aaaaaaaa 2\/2 +!bbbbbbbb 1\/2/);
    } finally {
      await p2.stop();
      await p1.stop();
    }
    // a stopped member's record leaves with its lease
    const after = JSON.parse((await cli(["fleet", "status", "--config", file, "--json"])).out) as { members: unknown[] };
    expect(after.members).toEqual([]);
  });

  it("measures put-to-watch latency across members and puts per second 16 at a time", async () => {
    const { ev } = await watch(client(2));
    const c = client(0);
    const samples: number[] = [];
    for (let i = 0; i < 50; i++) {
      const key = keys.drain("bench", `lat${i}`);
      const t0 = performance.now();
      await c.put(key, "x");
      await ev.waitFor((e) => e.type !== "synced" && "revision" in e && (e.type === "rejected" ? e.rejected.key === key : "key" in e && e.key === key));
      samples.push(performance.now() - t0);
    }
    const total = 800;
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < total) await c.put(keys.drain("bench", `tp${next++}`), "x");
    }));
    const perSecond = total / ((performance.now() - t0) / 1000);
    console.log(`fleet: put on m0 to watch on m2: p50 ${pct(samples, 50).toFixed(1)} ms, p95 ${pct(samples, 95).toFixed(1)} ms (50 puts); ${perSecond.toFixed(0)} puts/s 16 at a time (${total} puts)`);
    expect(samples).toHaveLength(50);
    expect(perSecond).toBeGreaterThan(10);
    await c.delete(keys.root + "drains/bench/", { prefix: true });
  });

  it("a watch survives its member killed: it fails over and loses no event", async () => {
    const { w, ev } = await watch(client(2, 0, 1));
    const c = client(0, 1);
    const names = Array.from({ length: 20 }, (_, i) => `k${i}`);
    for (const n of names.slice(0, 10)) await c.put(keys.drain("failover", n), "x");
    await cluster.kill(cluster.members[2]);
    for (const n of names.slice(10)) await c.put(keys.drain("failover", n), "x");
    await ev.waitFor((e) => e.type === "disconnected");
    await ev.waitFor((e) => e.type === "connected" && e.endpoint !== cluster.members[2].endpoint, 15_000);
    for (const n of names) await ev.waitFor((e) => e.type === "rejected" && e.rejected.key === keys.drain("failover", n), 10_000);
    const seen = ev.all.filter((e) => e.type === "rejected" && e.rejected.key.includes("/failover/")).map((e) => (e as { rejected: { key: string } }).rejected.key);
    expect(new Set(seen).size).toBe(20);
    expect(w.isConnected()).toBe(true);
    cluster.startMember(cluster.members[2]);
    await cluster.waitHealthy();
    await c.delete(keys.root + "drains/failover/", { prefix: true });
  });

  it("a watch that cannot resume (etcd compacted past it) reads everything again and reports a resync", async () => {
    const { w, ev } = await watch(client(0));
    await ev.waitFor((e) => e.type === "connected");
    const c = client(1, 2);
    await cluster.kill(cluster.members[0]);
    await ev.waitFor((e) => e.type === "disconnected");
    const store = new FleetStore(c, keys);
    await store.registerTarget(target("t-while-away"), 60_000);
    const revision = await c.put(keys.drain("compact", "x"), "x");
    await c.transport.post("/v3/kv/compaction", { revision: String(revision), physical: true });
    cluster.startMember(cluster.members[0]);
    await cluster.waitHealthy();
    await ev.waitFor((e) => e.type === "synced" && e.resync, 20_000);
    expect(w.current().targets.has(keys.target("stream-a", "t-while-away"))).toBe(true);
    expect(w.current().rejected.has(keys.drain("compact", "x"))).toBe(true);
    await c.delete(keys.root + "drains/compact/", { prefix: true });
  });

  it("etcd stopped entirely: the watcher says disconnected, keeps its state, and resynchronises after the restart", async () => {
    const store = new FleetStore(client(0), keys);
    await store.registerTarget(target("t-survivor"), 60_000);
    const { w, ev } = await watch(client(0, 1, 2));
    expect(w.current().targets.has(keys.target("stream-a", "t-survivor"))).toBe(true);
    await ev.waitFor((e) => e.type === "connected");
    for (const m of cluster.members) await cluster.kill(m);
    await ev.waitFor((e) => e.type === "disconnected", 10_000);
    expect(w.isConnected()).toBe(false);
    // a member that boots meanwhile starts without its store and catches up later
    const lateEvents = new Events();
    const late = new FleetWatcher(client(0, 1, 2), keys, lateEvents.push, { backoffMs: 100, maxBackoffMs: 500 });
    watchers.push(late);
    late.begin();
    await new Promise((r) => setTimeout(r, 3000));
    expect(w.current().targets.has(keys.target("stream-a", "t-survivor"))).toBe(true);
    expect(late.current().targets.size).toBe(0);
    for (const m of cluster.members) cluster.startMember(m);
    await cluster.waitHealthy();
    await lateEvents.waitFor((e) => e.type === "synced", 15_000);
    expect(late.current().targets.has(keys.target("stream-a", "t-survivor"))).toBe(true);
    await ev.waitFor((e) => e.type === "connected" && ev.all.indexOf(e) > ev.all.findIndex((x) => x.type === "disconnected"), 15_000);
    await store.registerTarget(target("t-after"), 60_000);
    await ev.waitFor((e) => e.type === "put" && e.key === keys.target("stream-a", "t-after"));
    expect(w.current().targets.has(keys.target("stream-a", "t-survivor"))).toBe(true);
  });
});

describe("fleet store over TLS", () => {
  const cluster = new EtcdCluster("ft", true);
  const open: { close(): void }[] = [];
  beforeAll(async () => {
    await cluster.start();
  }, 60_000);
  afterAll(async () => {
    for (const c of open) c.close();
    await cluster.stop();
  });

  it("registers through member A and watches through member C with a client certificate; no certificate, no answer", async () => {
    const tls = cluster.clientTls!;
    const a = new EtcdClient({ endpoints: [cluster.members[0].endpoint], tls });
    const c = new EtcdClient({ endpoints: [cluster.members[2].endpoint], tls });
    open.push(a, c);
    const ev = new Events();
    const w = new FleetWatcher(c, keys, ev.push, { probeMs: 500 });
    await w.start();
    try {
      await new FleetStore(a, keys).registerTarget(target("t-tls"), 30_000);
      await ev.waitFor((e) => e.type === "put" && e.key === keys.target("stream-a", "t-tls"));
    } finally {
      await w.stop();
    }
    // a certificate the fleet's CA did not sign: the member refuses the handshake
    const r = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=rogue", "-keyout", "rogue.key", "-out", "rogue.pem"], { cwd: cluster.dir });
    expect(r.status).toBe(0);
    const anonymous = new EtcdClient({ endpoints: [cluster.members[0].endpoint], tls: { ...tls, cert: join(cluster.dir, "rogue.pem"), key: join(cluster.dir, "rogue.key") }, timeoutMs: 2000 });
    open.push(anonymous);
    await expect(anonymous.status()).rejects.toThrow(/no etcd endpoint answered/);
  });
});
