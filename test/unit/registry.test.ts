import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Registry, RegistryError } from "../../src/daemon/registry.js";
import { mustLoad } from "../helpers/config.js";
import type { RegistrationsFile } from "../../src/daemon/registrationsFile.js";

const example = readFileSync(join(import.meta.dirname, "..", "..", "examples", "load-balancer-dynamic.yaml"), "utf8");
const resolved = mustLoad(example);
const empty = (): RegistrationsFile => ({ version: 1, registrations: [], drains: [], drained: [] });
const target = { name: "target-d", via: "172.16.1.8", interface: "conduit-b" };
/** The frontend's interfaces as the lab builds them (src/lab/loadBalancer.ts). */
const links = {
  "conduit-a": { addresses: ["172.16.0.4/24", "fd00::4/64", "fe80::1/64"] },
  "conduit-b": { addresses: ["172.16.1.4/24", "fd00:0:0:1::4/64"] },
  "ext-vlan0": { addresses: ["169.254.100.1/24", "100:100::1/64"] },
};

function registry(start = empty()) {
  let clock = 1_000_000;
  const saved: RegistrationsFile[] = [];
  const r = new Registry(start, (d) => saved.push(d), () => clock);
  return { r, saved, tick: (ms: number) => (clock += ms) };
}

const fails = (f: () => unknown): RegistryError => {
  try {
    f();
  } catch (e) {
    if (e instanceof RegistryError) return e;
    throw e;
  }
  throw new Error("did not throw");
};

describe("registry", () => {
  it("appends a registered target to its balancer, saving before it counts", () => {
    const { r, saved } = registry();
    const { changed, view } = r.add(resolved, "stream-a", target, { links });
    expect(changed).toBe(true);
    expect(view).toMatchObject({ source: "registered", state: "serving" });
    expect(saved).toHaveLength(1);
    expect(r.merge(resolved).config.loadBalancers[0].targets.map((t) => t.name)).toEqual(["target-a", "target-b", "target-c", "target-d"]);
    // the same registration again only renews
    expect(r.add(resolved, "stream-a", target, { links }).changed).toBe(false);
  });

  it("refuses what it must, with the status the API answers", () => {
    const { r } = registry();
    expect(fails(() => r.add(resolved, "nope", target, { links })).status).toBe(404);
    expect(fails(() => r.add(resolved, "stream-a", { ...target, name: "target-a" }, { links })).message).toContain("the file's targets win");
    const bad = fails(() => r.add(resolved, "stream-a", { ...target, via: "300.0.0.1" }, { links }));
    expect(bad.status).toBe(400);
    expect(bad.errors.join()).toMatch(/^via: /);
    expect(fails(() => r.add(resolved, "stream-a", { name: "x", interface: "conduit-b" }, { links })).message).toContain("needs via and/or via6");
    expect(fails(() => r.add(resolved, "stream-a", target, { lease: "soon", links })).status).toBe(400);
    const closed = mustLoad(example.replace("    registration: { lease: 30s, maxTargets: 64 }\n", ""));
    expect(fails(() => r.add(closed, "stream-a", target, { links })).status).toBe(409);
    expect(fails(() => r.remove(resolved, "stream-a", "target-a")).status).toBe(409);
    expect(fails(() => r.remove(resolved, "stream-a", "target-z")).status).toBe(404);
  });

  it("leases: never longer than the balancer's, renewed by renew or add, expired ones removed", () => {
    const { r, tick } = registry();
    r.add(resolved, "stream-a", target, { lease: "5m", links }); // asks for more than the 30s lease: gets 30s
    expect(r.nextDeadline()).toBe(30_000);
    tick(20_000);
    r.renew("stream-a", "target-d");
    tick(20_000);
    expect(r.expire()).toEqual([]);
    tick(10_001);
    expect(r.expire()).toEqual(["stream-a/target-d"]);
    expect(r.merge(resolved).config.loadBalancers[0].targets).toHaveLength(3);
    expect(r.renew("stream-a", "target-d")).toBeNull();
  });

  it("drains: a registered target goes when its drain ends, a file target stays out until undrained", () => {
    const { r, tick } = registry();
    r.add(resolved, "stream-a", target, { links });
    r.drain(resolved, "stream-a", "target-d");
    r.drain(resolved, "stream-a", "target-a", 2000);
    expect([...r.draining()].sort()).toEqual(["stream-a/target-a", "stream-a/target-d"]);
    // the balancer's drainTimeout (60s) and the asked 2s
    expect(r.drains().map((d) => d.deadline - d.since).sort((a, b) => a - b)).toEqual([2000, 60_000]);
    tick(2000);
    r.finishDrain("stream-a/target-a");
    r.finishDrain("stream-a/target-d");
    expect([...r.drained()]).toEqual(["stream-a/target-a"]);
    expect(r.registered().size).toBe(0);
    expect(r.views(resolved).find((v) => v.name === "target-a")?.state).toBe("drained");
    expect(r.undrain("stream-a", "target-a")).toBe(true);
    expect(r.undrain("stream-a", "target-a")).toBe(false);
    expect(fails(() => r.drain(resolved, "stream-a", "target-z")).status).toBe(404);
  });

  it("starts from what was saved: registrations survive a restart", () => {
    const first = registry();
    first.r.add(resolved, "stream-a", target, { links });
    const again = registry(first.saved.at(-1));
    expect([...again.r.registered()]).toEqual(["stream-a/target-d"]);
  });
});
