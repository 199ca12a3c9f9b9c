import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FleetKeys, fleetRoot, prefixEnd } from "../../src/fleet/keys.js";
import { applyKv, emptyFleetState, stateFromKvs } from "../../src/fleet/state.js";
import { storeInputs } from "../../src/fleet/merge.js";
import { balancerInputs, fingerprintOf } from "../../src/fleet/fingerprint.js";
import { compareMembers } from "../../src/fleet/compare.js";
import type { MemberRecord } from "../../src/fleet/records.js";
import { mustLoad } from "../helpers/config.js";
import { inputsOf, withRegistered } from "../../src/compile/inputs.js";

const example = readFileSync(join(import.meta.dirname, "..", "..", "examples", "load-balancer-dynamic.yaml"), "utf8");
const resolved = mustLoad(example);
const keys = new FleetKeys(fleetRoot("/symroute/", "edge"));
const links = { "conduit-a": { addresses: ["172.16.0.4/24"] }, "conduit-b": { addresses: ["172.16.1.4/24"] } };
const targetRec = (name: string, extra: Record<string, unknown> = {}, owner = "token ci") =>
  JSON.stringify({ version: 1, balancer: "stream-a", target: { name, via: "172.16.1.9", interface: "conduit-b", ...extra }, registeredAt: "2026-01-01T00:00:00Z", owner, leaseMs: 30000 });
const drainRec = (name: string, deadline: string, owner = "local") =>
  JSON.stringify({ version: 1, balancer: "stream-a", target: name, since: "2026-01-01T00:00:00Z", deadline, owner });

describe("fleet keys", () => {
  it("names every key under the fleet's root and parses it back", () => {
    expect(keys.target("stream-a", "t1")).toBe("/symroute/edge/targets/stream-a/t1");
    expect(keys.configRevision(7)).toBe("/symroute/edge/config/revisions/000000000007");
    expect(keys.parse(keys.target("stream-a", "t1"))).toEqual({ kind: "target", balancer: "stream-a", name: "t1" });
    expect(keys.parse(keys.drain("b", "n"))).toEqual({ kind: "drain", balancer: "b", name: "n" });
    expect(keys.parse(keys.member("fe1"))).toEqual({ kind: "member", member: "fe1" });
    expect(keys.parse(keys.configRevision(12))).toEqual({ kind: "configRevision", revision: 12 });
    expect(keys.parse("/symroute/edge/targets/a/b/c")).toBeNull();
    expect(keys.parse("/symroute/other/targets/a/b")).toBeNull();
  });

  it("refuses a segment that would make another key", () => {
    expect(() => keys.target("a/b", "c")).toThrow(RangeError);
    expect(() => keys.member("..")).toThrow(RangeError);
  });

  it("ends a prefix range just past it", () => {
    expect(prefixEnd("/a/").toString()).toBe("/a0");
  });
});

describe("fleet state", () => {
  it("keeps valid records and rejects, with reasons, ones that do not validate or lie about their key", () => {
    const s = stateFromKvs(keys, [
      { key: keys.target("stream-a", "t1"), value: targetRec("t1"), modRevision: 2, lease: "5" },
      { key: keys.target("stream-a", "t2"), value: targetRec("t2", { check: { command: ["sh", "-c", "reboot"] } }), modRevision: 3, lease: "5" },
      { key: keys.target("stream-a", "t3"), value: targetRec("t4"), modRevision: 4, lease: "5" },
      { key: keys.target("stream-a", "t5"), value: "{not json", modRevision: 5, lease: "0" },
      { key: "/symroute/edge/stray", value: "{}", modRevision: 6, lease: "0" },
    ], 6);
    expect([...s.targets.keys()]).toEqual([keys.target("stream-a", "t1")]);
    expect(s.rejected.get(keys.target("stream-a", "t2"))?.problems.join()).toMatch(/command/);
    expect(s.rejected.get(keys.target("stream-a", "t3"))?.problems.join()).toMatch(/key names stream-a\/t3/);
    expect(s.rejected.get(keys.target("stream-a", "t5"))?.problems.join()).toMatch(/not valid JSON/);
    expect(s.rejected.has("/symroute/edge/stray")).toBe(true);
    expect(s.revision).toBe(6);
  });

  it("a delete removes the record and its rejection; a fixed record replaces a rejection", () => {
    const s = emptyFleetState();
    const k = keys.target("stream-a", "t1");
    expect(applyKv(s, keys, k, "[]")).not.toBeNull();
    expect(applyKv(s, keys, k, targetRec("t1"))).toBeNull();
    expect(s.rejected.size).toBe(0);
    applyKv(s, keys, k, null);
    expect(s.targets.size).toBe(0);
  });
});

describe("fleet merge", () => {
  const state = (...kvs: [string, string][]) => stateFromKvs(keys, kvs.map(([key, value], i) => ({ key, value, modRevision: i + 1, lease: "0" })), kvs.length);

  it("appends store targets like the registry: the file's names win, conduits only", () => {
    const s = state(
      [keys.target("stream-a", "t1"), targetRec("t1")],
      [keys.target("stream-a", "target-a"), targetRec("target-a")],
      [keys.target("stream-a", "t9"), targetRec("t9", { interface: "ext-vlan0", via: "169.254.100.7" })],
      [keys.target("stream-a", "t8"), targetRec("t8", { via: "172.16.1.4" })],
    );
    const got = storeInputs(resolved, s, 0, links);
    expect(got.registered.map((r) => r.target.name)).toEqual(["t1"]);
    expect(got.refused.map((r) => r.key).sort()).toEqual([keys.target("stream-a", "t8"), keys.target("stream-a", "t9"), keys.target("stream-a", "target-a")].sort());
    expect(got.refused.find((r) => r.key.endsWith("/target-a"))?.reason).toMatch(/the file's targets win/);
    expect(got.refused.find((r) => r.key.endsWith("/t8"))?.reason).toMatch(/an address of this frontend/);
    const merged = withRegistered(resolved, inputsOf({ registered: got.registered }));
    expect(merged.config.loadBalancers[0].targets.map((t) => t.name)).toEqual(["target-a", "target-b", "target-c", "t1"]);
  });

  it("drains: under way before the deadline, finished after; a token drains only its own targets", () => {
    const s = state(
      [keys.target("stream-a", "t1"), targetRec("t1", {}, "token ci")],
      [keys.drain("stream-a", "t1"), drainRec("t1", "2026-01-01T00:01:00Z", "token ci")],
      [keys.drain("stream-a", "target-a"), drainRec("target-a", "2026-01-01T00:01:00Z", "local")],
      [keys.drain("stream-a", "target-b"), drainRec("target-b", "2026-01-01T00:01:00Z", "token ci")],
    );
    const before = storeInputs(resolved, s, Date.parse("2026-01-01T00:00:30Z"));
    expect([...before.targetsDraining].sort()).toEqual(["stream-a/t1", "stream-a/target-a"]);
    expect(before.refused.map((r) => r.key)).toEqual([keys.drain("stream-a", "target-b")]);
    const after = storeInputs(resolved, s, Date.parse("2026-01-01T00:02:00Z"));
    expect([...after.targetsDrained].sort()).toEqual(["stream-a/t1", "stream-a/target-a"]);
    expect(after.targetsDraining.size).toBe(0);
  });

  it("is the same on every member whatever order the store was read in", () => {
    const kvs: [string, string][] = [[keys.target("stream-a", "x1"), targetRec("x1")], [keys.target("stream-a", "x0"), targetRec("x0")]];
    const a = storeInputs(resolved, state(...kvs), 0);
    const b = storeInputs(resolved, state(...[...kvs].reverse()), 0);
    expect(a.registered).toEqual(b.registered);
  });
});

describe("fleet fingerprint and compare", () => {
  const lb = resolved.config.loadBalancers[0];
  const none = { targetsDown: new Set<string>(), targetsDraining: new Set<string>(), targetsDrained: new Set<string>() };
  const member = (name: string, over: Partial<MemberRecord> = {}, sets = none): MemberRecord => ({
    version: 1, member: name, appliedRevision: 3, balancers: { "stream-a": balancerInputs(lb, sets) }, targetsDown: [], vipsAnnounced: ["20.0.0.1"],
    lastReconcile: null, storeConnected: true, updatedAt: "2026-01-01T00:00:00Z", ...over,
  });

  it("changes with a name, a state or the size, not with the order", () => {
    const a = fingerprintOf(101, { x: "serving", y: "serving" });
    expect(fingerprintOf(101, { y: "serving", x: "serving" })).toBe(a);
    expect(fingerprintOf(103, { x: "serving", y: "serving" })).not.toBe(a);
    expect(fingerprintOf(101, { x: "serving", y: "down" })).not.toBe(a);
    expect(fingerprintOf(101, { x: "serving", z: "serving" })).not.toBe(a);
    expect(balancerInputs(lb, none).targets).toEqual({ "target-a": "serving", "target-b": "serving", "target-c": "serving" });
  });

  it("agrees when every member has the same inputs", () => {
    expect(compareMembers([member("fe1"), member("fe2"), member("fe3")])).toEqual([]);
  });

  it("names the member that differs and in what", () => {
    const down = { ...none, targetsDown: new Set(["stream-a/target-b"]) };
    const d = compareMembers([member("fe1"), member("fe2", {}, down), member("fe3", { appliedRevision: 2 })]);
    expect(d).toEqual([
      { member: "fe3", subject: "config revision", detail: "runs revision 2; most run revision 3" },
      { member: "fe2", subject: "balancer stream-a", detail: "target-b is down, serving on most" },
    ]);
  });
});

describe("member record", () => {
  it("carries each merged balancer's inputs, validates, and differs when a registered target is missing", async () => {
    const { memberRecordOf } = await import("../../src/fleet/memberRecord.js");
    const { memberRecordSchema } = await import("../../src/fleet/records.js");
    const sets = { targetsDown: new Set(["stream-a/target-c"]), targetsDraining: new Set<string>(), targetsDrained: new Set<string>() };
    const merged = withRegistered(resolved, inputsOf({ registered: [{ balancer: "stream-a", target: { name: "t1", via: "172.16.1.9", interface: "conduit-b" } }] })).config;
    const facts = { member: "fe1", appliedRevision: 4, merged, sets, vipsAnnounced: ["2000::1", "20.0.0.1"], lastReconcile: 0, storeConnected: true, now: 0 };
    const a = memberRecordOf(facts);
    expect(memberRecordSchema.parse(a)).toEqual(a);
    expect(a.balancers["stream-a"].targets).toEqual({ "target-a": "serving", "target-b": "serving", "target-c": "down", t1: "serving" });
    expect(a.vipsAnnounced).toEqual(["20.0.0.1", "2000::1"]);
    const b = memberRecordOf({ ...facts, member: "fe2", merged: resolved.config });
    expect(compareMembers([a, b, { ...a, member: "fe3" }])).toEqual([{ member: "fe2", subject: "balancer stream-a", detail: "lacks t1" }]);
  });
});

describe("fleet compare without a majority", () => {
  it("marks both of two members that differ, each against the other", async () => {
    const { balancerInputs } = await import("../../src/fleet/fingerprint.js");
    const lb = resolved.config.loadBalancers[0];
    const none = { targetsDown: new Set<string>(), targetsDraining: new Set<string>(), targetsDrained: new Set<string>() };
    const rec = (member: string, appliedRevision: number, sets = none): MemberRecord => ({
      version: 1, member, appliedRevision, balancers: { "stream-a": balancerInputs(lb, sets) }, targetsDown: [], vipsAnnounced: [], lastReconcile: null, storeConnected: true, updatedAt: "2026-01-01T00:00:00Z",
    });
    const d = compareMembers([rec("fe1", 3), rec("fe2", 4, { ...none, targetsDraining: new Set(["stream-a/target-a"]) })]);
    expect(d).toEqual([
      { member: "fe1", subject: "config revision", detail: "runs revision 3; fe2 runs revision 4" },
      { member: "fe2", subject: "config revision", detail: "runs revision 4; fe1 runs revision 3" },
      { member: "fe1", subject: "balancer stream-a", detail: "target-a is serving, draining on fe2" },
      { member: "fe2", subject: "balancer stream-a", detail: "target-a is draining, serving on fe1" },
    ]);
  });
});
