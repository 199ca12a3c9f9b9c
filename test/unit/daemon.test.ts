/**
 * The daemon without namespaces (issue 18, item 5): a fake engine, fake
 * health, a fake monitor and a fake clock, so each race is set up on purpose
 * instead of found by luck: storms coalesce, a race retries once at once, a
 * conflict waits for the next event, SIGTERM at each step leaves nothing
 * running, a failed read of remembered flows never ends a drain, a reload
 * during a reconcile, a lease running out while its target drains.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mustLoad, TWO_UPLINKS } from "../helpers/config.js";
import { fakeDaemon } from "../helpers/fakeDaemon.js";
import { settle } from "../helpers/fakeClock.js";
import type { BalancerInfo } from "../../src/model/balancer.js";

const uplinks = mustLoad(TWO_UPLINKS);
const dynamic = mustLoad(readFileSync(join(import.meta.dirname, "..", "..", "examples", "load-balancer-dynamic.yaml"), "utf8"));
const RULE_DELETED = "Deleted 1000:\tfrom 203.0.113.8 lookup 1000 proto 97";
const LINK_UP = "3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP";
/** the applied balancer with flow memory, as the drain watch reads it */
const withMemory = [{ name: "stream-a", flowMemory: { timeout: "120s", size: 65536 }, targets: [] }] as unknown as BalancerInfo[];

/** Starts the daemon and ends its first reconcile. */
async function started(f: ReturnType<typeof fakeDaemon>) {
  const first = f.daemon.start();
  await settle();
  f.current().ok();
  await first;
  return f;
}

describe("daemon, without the kernel", () => {
  it("a storm of 200 kernel events gives one reconcile", async () => {
    const f = await started(fakeDaemon(uplinks, { auto: true }));
    for (let i = 0; i < 200; i++) f.line(RULE_DELETED);
    await f.clock.advance(10);
    expect(f.reconciles).toHaveLength(1);
    await f.clock.advance(20);
    expect(f.reconciles).toHaveLength(2);
    expect(f.records.at(-1)?.reason).toBe("rule event");
    expect(f.daemon.snapshot().events.relevant).toBe(200);
    await f.daemon.stop();
  });

  it("a race (retryable) retries once at once; the same again backs off, and a success resets it", async () => {
    const f = await started(fakeDaemon(uplinks));
    f.line(RULE_DELETED);
    await f.clock.advance(20);
    f.current().fail("retryable", "ip -batch exited 2: RTNETLINK answers: File exists");
    await f.clock.advance(0);
    expect(f.reconciles).toHaveLength(3);
    f.current().fail("retryable");
    await f.clock.advance(0);
    expect(f.daemon.snapshot().backoffMs).toBe(100);
    await f.clock.advance(99);
    expect(f.reconciles).toHaveLength(3);
    await f.clock.advance(1);
    expect(f.reconciles).toHaveLength(4);
    f.current().ok();
    await f.clock.advance(0);
    expect(f.daemon.snapshot().backoffMs).toBe(0);
    expect(f.daemon.snapshot().reconciles).toEqual({ ok: 2, failed: 2 });
    await f.daemon.stop();
  });

  it("a fatal failure backs off, doubling; a link event comes through the backoff", async () => {
    const f = await started(fakeDaemon(uplinks));
    f.line(RULE_DELETED);
    await f.clock.advance(20);
    f.current().fail("fatal");
    await f.clock.advance(100);
    f.current().fail("fatal");
    await f.clock.advance(0);
    expect(f.daemon.snapshot().backoffMs).toBe(200);
    f.line(RULE_DELETED); // waits the backoff out
    await f.clock.advance(20);
    expect(f.reconciles).toHaveLength(3);
    f.line(LINK_UP); // the news a failing repair waits for
    await f.clock.advance(20);
    expect(f.reconciles).toHaveLength(4);
    f.current().ok();
    await f.daemon.stop();
  });

  it("a conflict is not retried: the next event brings the repair", async () => {
    const f = await started(fakeDaemon(uplinks));
    f.line(RULE_DELETED);
    await f.clock.advance(20);
    f.current().fail("conflict");
    await f.clock.advance(60_000 - 20);
    expect(f.reconciles).toHaveLength(2);
    expect(f.daemon.snapshot().backoffMs).toBe(0);
    f.line(RULE_DELETED);
    await f.clock.advance(20);
    expect(f.reconciles).toHaveLength(3);
    f.current().ok();
    await f.daemon.stop();
  });

  it("a full reconcile every interval besides the events", async () => {
    const f = await started(fakeDaemon(uplinks, { auto: true, intervalMs: 30_000 }));
    await f.clock.advance(90_000);
    expect(f.records.map((r) => r.reason)).toEqual(["start", "interval", "interval", "interval"]);
    await f.daemon.stop();
  });

  it("an uplink going down is an input of the next reconcile at once, and its connections go after it", async () => {
    const f = await started(fakeDaemon(uplinks));
    f.uplinks.set("isp1", "down");
    await f.clock.advance(0);
    expect(f.reconciles).toHaveLength(2);
    expect([...f.current().inputs.uplinksDown]).toEqual(["isp1"]);
    f.current().ok(true);
    await f.clock.advance(0);
    expect(f.deleted).toEqual([0x10000]);
    expect(f.daemon.snapshot().failovers.at(-1)).toMatchObject({ uplink: "isp1", to: "down", connectionsDeleted: 1 });
    await f.daemon.stop();
  });

  for (const moment of ["a kernel link event", "an uplink coming back", "a target going down", "a reload", "a registration"] as const) {
    it(`SIGTERM during a reconcile for ${moment}: stop waits for it, then nothing starts and no probe is synced`, async () => {
      const f = await started(fakeDaemon(dynamic));
      if (moment === "a kernel link event") f.line("3: conduit-a: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500");
      if (moment === "an uplink coming back") f.uplinks.set("isp1", "up");
      if (moment === "a target going down") f.targets.set("stream-a/target-a", "down");
      const pending = moment === "a reload" ? f.daemon.reload() : moment === "a registration" ? f.daemon.registerTarget("stream-a", { name: "t9", via: "172.16.1.9", interface: "conduit-b" }).catch((e: Error) => e) : null;
      await f.clock.advance(20);
      const inFlight = f.current();
      expect(inFlight.done).toBe(false);
      let stopped = false;
      const stopping = f.daemon.stop().then(() => (stopped = true));
      f.line(RULE_DELETED);
      f.uplinks.set("isp2", "down");
      await f.clock.advance(5000);
      expect(stopped).toBe(false);
      const count = f.reconciles.length;
      inFlight.ok(true);
      await stopping;
      await pending;
      await f.clock.advance(60_000);
      expect(f.reconciles).toHaveLength(count);
      expect(f.uplinks.syncsAfterStop + f.targets.syncsAfterStop).toBe(0);
      expect([f.uplinks.stopped, f.targets.stopped, f.children.monitorStopped]).toEqual([true, true, true]);
      expect(f.clock.armed()).toBe(0);
    });
  }

  it("SIGTERM between reconciles, with a burst of events pending: no reconcile starts", async () => {
    const f = await started(fakeDaemon(uplinks, { auto: true }));
    f.line(RULE_DELETED);
    f.uplinks.set("isp1", "down");
    await f.daemon.stop();
    await f.clock.advance(60_000);
    expect(f.reconciles).toHaveLength(1);
    expect(f.clock.armed()).toBe(0);
  });

  it("a failed read of remembered flows never ends a drain; its timeout does", async () => {
    const now = new Date(0);
    const f = await started(
      fakeDaemon(dynamic, {
        auto: true,
        balancers: withMemory,
        flows: async () => {
          throw new Error("nft: cannot list the sets");
        },
        registrations: { version: 1, registrations: [], drains: [{ balancer: "stream-a", target: "target-a", since: now.toISOString(), deadline: new Date(60_000).toISOString() }], drained: [] },
      }),
    );
    await f.clock.advance(30_000);
    expect(f.daemon.snapshot().targetsDraining).toEqual(["stream-a/target-a"]);
    expect(f.daemon.snapshot().drainsFinished).toEqual([]);
    await f.clock.advance(31_000);
    expect(f.daemon.snapshot().drainsFinished).toMatchObject([{ target: "stream-a/target-a", why: "timeout" }]);
    expect([...f.current().inputs.targetsDrained]).toEqual(["stream-a/target-a"]);
    await f.daemon.stop();
  });

  it("a drain whose flows are counted ends when none is left", async () => {
    let left = 3;
    const f = await started(
      fakeDaemon(dynamic, {
        auto: true,
        balancers: withMemory,
        flows: async () => new Map([["stream-a/target-a", left]]),
        registrations: { version: 1, registrations: [], drains: [{ balancer: "stream-a", target: "target-a", since: new Date(0).toISOString(), deadline: new Date(300_000).toISOString() }], drained: [] },
      }),
    );
    await f.clock.advance(5_000);
    expect(f.daemon.snapshot().drainsFinished).toEqual([]);
    left = 0;
    await f.clock.advance(1_100);
    expect(f.daemon.snapshot().drainsFinished).toMatchObject([{ target: "stream-a/target-a", why: "flows ended" }]);
    await f.daemon.stop();
  });

  it("a reload during a reconcile runs after it, with the new config", async () => {
    const f = await started(fakeDaemon(uplinks));
    f.line(RULE_DELETED);
    await f.clock.advance(20);
    const reload = f.daemon.reload();
    await settle();
    expect(f.reconciles).toHaveLength(2);
    f.current().ok();
    await settle();
    expect(f.reconciles).toHaveLength(3);
    f.current().ok(true);
    expect((await reload).reason).toBe("reload");
    await f.daemon.stop();
  });

  it("a lease that runs out while its target drains: the target leaves, its drain with it, in one reconcile", async () => {
    const target = { name: "t9", via: "172.16.1.9", interface: "conduit-b" };
    const f = await started(
      fakeDaemon(dynamic, {
        auto: true,
        balancers: withMemory,
        flows: async () => new Map([["stream-a/t9", 5]]),
        registrations: {
          version: 1,
          registrations: [{ balancer: "stream-a", target, registeredAt: new Date(0).toISOString(), leaseMs: 30_000, expiresAt: new Date(30_000).toISOString(), owner: "local" }],
          drains: [{ balancer: "stream-a", target: "t9", since: new Date(0).toISOString(), deadline: new Date(60_000).toISOString() }],
          drained: [],
        },
      }),
    );
    expect(f.current().inputs.registered.map((r) => r.target.name)).toEqual(["t9"]);
    const before = f.reconciles.length;
    await f.clock.advance(30_010);
    expect(f.daemon.snapshot().leasesExpired).toMatchObject([{ target: "stream-a/t9" }]);
    expect(f.reconciles).toHaveLength(before + 1);
    expect(f.current().inputs.registered).toEqual([]);
    expect([...f.current().inputs.targetsDraining]).toEqual([]);
    await f.clock.advance(60_000);
    expect(f.daemon.snapshot().drainsFinished).toEqual([]);
    await f.daemon.stop();
  });
});

describe("daemon stop, races found by bench/shutdown.ts", () => {
  it("a drain that ends while a reconcile runs, then SIGTERM: the drain's reconcile is refused, stop still ends and stops every child", async () => {
    const f = await started(
      fakeDaemon(dynamic, {
        balancers: withMemory,
        flows: async () => new Map([["stream-a/target-a", 0]]),
        registrations: { version: 1, registrations: [], drains: [{ balancer: "stream-a", target: "target-a", since: new Date(0).toISOString(), deadline: new Date(300_000).toISOString() }], drained: [] },
      }),
    );
    f.line(RULE_DELETED);
    await f.clock.advance(20);
    const inFlight = f.current();
    await f.clock.advance(1000); // the drain watch finds no flows left: its reconcile waits for the one in flight
    expect(f.daemon.snapshot().drainsFinished).toMatchObject([{ target: "stream-a/target-a", why: "flows ended" }]);
    const stopping = f.daemon.stop();
    inFlight.ok();
    await stopping;
    expect([f.uplinks.stopped, f.targets.stopped, f.children.monitorStopped]).toEqual([true, true, true]);
    expect(f.clock.armed()).toBe(0);
  });

  it("a registration that arrives after stop began is refused before it changes anything (503)", async () => {
    const f = await started(fakeDaemon(dynamic, { auto: true }));
    await f.daemon.stop();
    const refused = await f.daemon.registerTarget("stream-a", { name: "t9", via: "172.16.1.9", interface: "conduit-b" }).catch((e: { status?: number }) => e);
    expect((refused as { status?: number }).status).toBe(503);
    expect(f.saved).toEqual([]);
    expect(f.daemon.targetList().map((t) => t.name)).not.toContain("t9");
  });
});
