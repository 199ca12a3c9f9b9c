/** The registrations file is checked with the config's own target schema: a wrong type inside is named, never run with. */
import { describe, expect, it } from "vitest";
import { parseRegistrations, RegistrationsFileError } from "../../src/daemon/registrationsFile.js";

const good = {
  version: 1,
  registrations: [{ balancer: "stream-a", target: { name: "target-d", via: "172.16.1.8", interface: "conduit-b" }, registeredAt: "2026-01-02T03:04:05.000Z", leaseMs: 30000, expiresAt: "2026-01-02T03:04:35.000Z" }],
  drains: [],
  drained: [],
};

const problemsOf = (value: unknown): string[] => {
  try {
    parseRegistrations(JSON.stringify(value), "/run/symroute/netns-x.targets.json");
  } catch (e) {
    if (e instanceof RegistrationsFileError) return e.problems;
    throw e;
  }
  throw new Error("accepted");
};

describe("registrations file", () => {
  it("a file the daemon wrote passes as it is", () => {
    expect(parseRegistrations(JSON.stringify(good), "f").registrations[0].target).toEqual(good.registrations[0].target);
  });

  it("a target name that is a number is named with its place", () => {
    const bad = structuredClone(good) as { registrations: { target: Record<string, unknown> }[] };
    bad.registrations[0].target.name = 7;
    const problems = problemsOf(bad);
    expect(problems.join("\n")).toMatch(/^registrations\.0\.target\.name: /);
  });

  it("the message names the file and says what to do", () => {
    const e = (() => {
      try {
        parseRegistrations("{", "/run/symroute/netns-x.targets.json");
      } catch (err) {
        return err as Error;
      }
    })();
    expect(e).toBeInstanceOf(RegistrationsFileError);
    expect(e!.message).toContain("/run/symroute/netns-x.targets.json: not a usable registrations file");
    expect(e!.message).toContain("fix the file, or remove it");
  });

  it("fields the target schema refuses, a target with no via, an unknown field, a bad date", () => {
    const variants: [string, (f: typeof good) => void][] = [
      ["registrations.0.target.via", (f) => void (f.registrations[0].target.via = "not-an-address")],
      ["registrations.0.target", (f) => void delete (f.registrations[0].target as { via?: string }).via],
      ["registrations.0", (f) => void ((f.registrations[0] as Record<string, unknown>).extra = 1)],
      ["registrations.0.registeredAt", (f) => void (f.registrations[0].registeredAt = "yesterday")],
      ["drained.0", (f) => void ((f.drained as unknown[]).push(3))],
    ];
    for (const [where, change] of variants) {
      const f = structuredClone(good);
      change(f);
      expect(problemsOf(f).join("\n"), where).toContain(`${where}`);
    }
  });
});
