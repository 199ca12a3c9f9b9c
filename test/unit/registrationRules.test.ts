/**
 * Issue 17, items 1, 2, 3 and 5 in the registry: a registration is data (no
 * command checks), stays inside its balancer's conduits, is renewed, removed
 * and drained only by whoever made it, and asks for no duration beyond a day.
 * Each refusal carries the status the API answers and the field it is about.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Registry, RegistryError } from "../../src/daemon/registry.js";
import type { Caller } from "../../src/daemon/caller.js";
import { mustFail, mustLoad } from "../helpers/config.js";

const example = readFileSync(join(import.meta.dirname, "..", "..", "examples", "load-balancer-dynamic.yaml"), "utf8");
const resolved = mustLoad(example);
const withRegistration = (registration: string) => mustLoad(example.replace("    registration: { lease: 30s, maxTargets: 64 }", `    registration: ${registration}`));
const links = {
  "conduit-a": { addresses: ["172.16.0.4/24", "fd00::4/64"] },
  "conduit-b": { addresses: ["172.16.1.4/24", "fd00:0:0:1::4/64"] },
  "ext-vlan0": { addresses: ["169.254.100.1/24", "100:100::1/64"] },
};
const target = { name: "target-d", via: "172.16.1.8", via6: "fd00:0:0:1::8", interface: "conduit-b" };
const alice: Caller = { kind: "token", name: "alice", balancers: ["stream-a"] };
const bob: Caller = { kind: "token", name: "bob", balancers: "*" };
const elsewhere: Caller = { kind: "token", name: "carol", balancers: ["other"] };

const fresh = () => new Registry({ version: 1, registrations: [], drains: [], drained: [] }, () => {}, () => 1_000_000);

function refusal(f: () => unknown): RegistryError {
  try {
    f();
  } catch (e) {
    if (e instanceof RegistryError) return e;
    throw e;
  }
  throw new Error("was accepted");
}

describe("registrations are data, never programs", () => {
  it("refuses a command check with 403 on check.command, from any caller; tcp and http checks pass", () => {
    for (const caller of [undefined, alice]) {
      const e = refusal(() => fresh().add(resolved, "stream-a", { ...target, check: { command: ["/bin/sh", "-c", "id > /tmp/x"] } }, { links, caller }));
      expect(e.status).toBe(403);
      expect(e.errors[0]).toMatch(/^check\.command: .*tcp and http checks only/);
    }
    expect(fresh().add(resolved, "stream-a", { ...target, check: { tcp: 4000 } }, { links }).changed).toBe(true);
    expect(fresh().add(resolved, "stream-a", { ...target, check: { http: { port: 8080 } } }, { links }).changed).toBe(true);
  });
});

describe("a registration stays inside its balancer", () => {
  const place = (t: Record<string, unknown>, r = resolved) => refusal(() => fresh().add(r, "stream-a", t, { links }));

  it("refuses an interface that is not a conduit (the uplink side, one that does not exist)", () => {
    for (const iface of ["ext-vlan0", "conduit-z"]) {
      const e = place({ name: "t", via: "169.254.100.150", interface: iface });
      expect(e.status).toBe(403);
      expect(e.errors[0]).toMatch(new RegExp(`^interface: ${iface} is not one of stream-a's conduits \\(conduit-a, conduit-b\\)`));
    }
  });

  it("refuses a next hop off the conduit's subnet, the frontend's own address, the subnet's network and broadcast", () => {
    expect(place({ name: "t", via: "172.16.0.6", interface: "conduit-b" }).errors[0]).toMatch(/^via: 172\.16\.0\.6 is not in the subnets of conduit-b \(172\.16\.1\.0\/24\)/);
    expect(place({ name: "t", via6: "fd00::6", interface: "conduit-b" }).errors[0]).toMatch(/^via6: fd00::6 is not in the subnets of conduit-b/);
    expect(place({ name: "t", via: "172.16.1.4", interface: "conduit-b" }).errors[0]).toMatch(/^via: 172\.16\.1\.4 is an address of this frontend \(on conduit-b\)/);
    expect(place({ name: "t", via6: "fd00:0:0:1::4", interface: "conduit-b" }).errors[0]).toMatch(/an address of this frontend/);
    expect(place({ name: "t", via: "172.16.1.0", interface: "conduit-b" }).errors[0]).toMatch(/network address/);
    expect(place({ name: "t", via: "172.16.1.255", interface: "conduit-b" }).errors[0]).toMatch(/broadcast address/);
    // both fields wrong: both named
    expect(place({ name: "t", via: "10.9.9.9", via6: "fd00:0:0:1::4", interface: "conduit-b" }).errors.map((x) => x.split(":")[0])).toEqual(["via", "via6"]);
  });

  it("refuses a VIP or a gateway even where registration.allow would take it", () => {
    const wide = withRegistration("{ allow: [0.0.0.0/0, \"::/0\"] }");
    expect(place({ name: "t", via: "20.0.0.1", interface: "conduit-a" }, wide).errors[0]).toMatch(/^via: 20\.0\.0\.1 is a VIP of stream-a/);
    expect(place({ name: "t", via: "169.254.100.150", interface: "conduit-a" }, wide).errors[0]).toMatch(/the egress gateway of stream-a/);
    expect(place({ name: "t", via6: "2000::1", interface: "conduit-a" }, wide).errors[0]).toMatch(/a VIP of stream-a/);
    expect(fresh().add(wide, "stream-a", { name: "t", via: "10.9.9.9", interface: "conduit-a" }, { links }).changed).toBe(true);
  });

  it("registration.allow narrows, registration.conduits chooses the conduits", () => {
    const narrow = withRegistration("{ allow: [172.16.1.8/32] }");
    expect(place({ name: "t", via: "172.16.1.9", interface: "conduit-b" }, narrow).errors[0]).toMatch(/not in stream-a's registration\.allow \(172\.16\.1\.8\/32\)/);
    expect(fresh().add(narrow, "stream-a", { name: "t", via: "172.16.1.8", interface: "conduit-b" }, { links }).changed).toBe(true);
    const onlyB = withRegistration("{ conduits: [conduit-b] }");
    expect(place({ name: "t", via: "172.16.0.9", interface: "conduit-a" }, onlyB).errors[0]).toMatch(/^interface: conduit-a is not one of stream-a's conduits \(conduit-b\)/);
  });

  it("a balancer that takes registrations without file targets must name its conduits (a located config error)", () => {
    const noTargets = example.replace(/\n    targets:\n[\s\S]*?\n    egress:/, "\n    targets: []\n    egress:");
    expect(mustFail(noTargets).join("\n")).toMatch(/test\.yaml:\d+:\d+: loadBalancers\[0\]\.registration: .*registration\.conduits/);
    expect(mustLoad(noTargets.replace("maxTargets: 64 }", "maxTargets: 64, conduits: [conduit-a] }")).config.loadBalancers[0].registration?.conduits).toEqual(["conduit-a"]);
  });
});

describe("who may change what", () => {
  it("a registrant renews, removes and drains only its own targets; the file's targets need the local socket", () => {
    const r = fresh();
    r.add(resolved, "stream-a", target, { links, caller: alice });
    expect(r.views(resolved).find((v) => v.name === "target-d")?.owner).toBe("token alice");
    expect(refusal(() => r.add(resolved, "stream-a", target, { links, caller: bob })).status).toBe(403);
    expect(refusal(() => r.renew("stream-a", "target-d", bob)).status).toBe(403);
    expect(refusal(() => r.remove(resolved, "stream-a", "target-d", bob)).status).toBe(403);
    expect(refusal(() => r.drain(resolved, "stream-a", "target-d", undefined, bob)).status).toBe(403);
    expect(refusal(() => r.undrain("stream-a", "target-d", bob)).status).toBe(403);
    const file = refusal(() => r.drain(resolved, "stream-a", "target-a", undefined, alice));
    expect([file.status, file.message]).toEqual([403, expect.stringContaining("only the local socket drains it")]);
    expect(refusal(() => r.undrain("stream-a", "target-a", alice)).status).toBe(403);
    expect(refusal(() => r.add(resolved, "stream-a", { ...target, name: "t2" }, { links, caller: elsewhere })).status).toBe(403);
    // the owner may; so may the socket, and a renewal by the socket keeps the owner
    expect(r.renew("stream-a", "target-d", alice)?.owner).toBe("token alice");
    expect(r.add(resolved, "stream-a", target, { links }).view.owner).toBe("token alice");
    expect(r.drain(resolved, "stream-a", "target-d", 1000, alice).state).toBe("draining");
    expect(r.undrain("stream-a", "target-d", alice)).toBe(true);
    expect(r.drain(resolved, "stream-a", "target-a").state).toBe("draining");
    r.remove(resolved, "stream-a", "target-d", alice);
    expect(r.registered().size).toBe(0);
  });
});

describe("every duration bounded", () => {
  it("a lease or a drain timeout beyond a day is refused with 400; a day is taken", () => {
    const open = withRegistration("{}");
    const huge = refusal(() => fresh().add(open, "stream-a", target, { links, lease: "99999m" }));
    expect([huge.status, huge.message]).toEqual([400, expect.stringMatching(/^lease: must be a duration between 1s and 24h/)]);
    const r = fresh();
    r.add(open, "stream-a", target, { links, lease: "1440m" });
    expect(r.nextDeadline()).toBe(86_400_000);
    expect(refusal(() => r.drain(open, "stream-a", "target-d", 86_400_001)).status).toBe(400);
  });

  it("the daemon's own intervals are bounded in the config", () => {
    const daemonWith = (line: string) => example.replace("  metrics: 127.0.0.1:9479", `  metrics: 127.0.0.1:9479\n  ${line}`);
    expect(mustFail(daemonWith("reconcileInterval: 99999m")).join()).toMatch(/daemon\.reconcileInterval: must be between 1s and 24h/);
    expect(mustFail(daemonWith("debounce: 1m")).join()).toMatch(/daemon\.debounce: must be between 0s and 10s/);
    expect(mustLoad(daemonWith("reconcileInterval: 1440m")).config.daemon?.reconcileInterval).toBe("1440m");
  });
});
