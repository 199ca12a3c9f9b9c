import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compile } from "../../src/compile/index.js";
import { makePlan, nftDesiredText } from "../../src/plan/plan.js";
import { listingChanged, listingFingerprint, structureOf, withAppliedElements, type NftObject } from "../../src/plan/nftListing.js";
import { replaceTableCommands, type NftTable } from "../../src/model/nftTable.js";
import { MAP_CHUNK } from "../../src/compile/loadBalancers.js";
import type { LiveState } from "../../src/plan/live.js";
import { mustLoad } from "../helpers/config.js";
import { recreateCommands } from "../../src/kernel/nft.js";

const example = readFileSync(join(import.meta.dirname, "..", "..", "examples", "load-balancer.yaml"), "utf8");
const withoutD = (text: string) => text.replace(/\n      - \{ name: target-d[^\n]*/, "");
const desiredOf = (text: string) => compile(mustLoad(text), { links: {}, rpFilter: {} }).desired;

/** What `nft -j list table` prints of a table symroute loaded: its commands' objects, without the table's delete. */
function fullListing(table: NftTable): NftObject[] {
  return replaceTableCommands(table)
    .slice(2)
    .map((c) => (c as { add: NftObject }).add);
}

function live(listing: NftObject[] | null): LiveState {
  return { rules: [], routes: [], nft: listing, sysctls: {}, interfaces: [] };
}

describe("nft listings", () => {
  const table = desiredOf(example).nft!;
  const full = fullListing(table);
  const terse = structureOf(full);

  it("a terse listing is the full one without the elements of named maps", () => {
    expect(terse.filter((o) => o.map).every((o) => !("elem" in o.map))).toBe(true);
    expect(terse.filter((o) => o.rule)).toEqual(full.filter((o) => o.rule));
  });

  it("the applied table's elements complete a terse listing into the full one", () => {
    expect(withAppliedElements(terse, table)).toEqual(full);
    expect(withAppliedElements([...terse, { map: { family: "inet", table: "symroute", name: "other" } }], table)).toBeNull();
  });

  it("recreates a listed table with chains ahead of the maps whose entries jump to them", () => {
    // nft lists a table's sets and maps ahead of its chains
    const listed = [...full.filter((o) => o.table || o.map), ...full.filter((o) => o.chain), ...full.filter((o) => o.rule)];
    expect(Object.keys(listed[1])[0]).toBe("map");
    const kinds = recreateCommands(listed).map((c) => Object.keys((c as { add: object }).add)[0]);
    expect(kinds.lastIndexOf("chain")).toBeLessThan(kinds.indexOf("map"));
    expect(kinds.indexOf("map")).toBeLessThan(kinds.indexOf("rule"));
    const rules = (list: NftObject[]) => list.filter((o) => o.rule).map((o) => JSON.stringify(o.rule));
    expect(rules(recreateCommands(listed).map((c) => (c as { add: NftObject }).add))).toEqual(rules(full));
  });

  it("fingerprints compare the structure always and the elements when both sides have them", () => {
    expect(listingChanged(listingFingerprint(full), terse)).toBe(false);
    expect(listingChanged(listingFingerprint(terse), full)).toBe(false);
    expect(listingChanged(listingFingerprint(full), full)).toBe(false);
    const edited = full.map((o) => (o.map ? { map: { ...o.map, elem: (o.map.elem as unknown[]).slice(1) } } : o));
    expect(listingChanged(listingFingerprint(full), edited)).toBe(true);
    const ruleGone = full.filter((o) => o.rule?.comment !== "stream-a: no flow matched");
    expect(listingChanged(listingFingerprint(terse), structureOf(ruleGone))).toBe(true);
    // older state files recorded the listing's JSON
    expect(listingChanged(JSON.stringify(full), full)).toBe(false);
    expect(listingChanged(null, full)).toBe(true);
  });
});

describe("plan of the nft table", () => {
  const before = desiredOf(example);
  const after = desiredOf(withoutD(example));
  const listing = structureOf(fullListing(before.nft!));
  const applied = { nftDesired: nftDesiredText(before.nft), nftLive: listingFingerprint(listing), desired: { nft: before.nft } };
  const plan = (desired: typeof before, recorded: typeof applied | null, seen: NftObject[] = listing) =>
    makePlan({ desired, live: live(seen), applied: recorded, sysctlOriginals: {}, priorities: { first: 1000, last: 1999 } }).nft;

  it("records digests, not the table", () => {
    expect(applied.nftDesired).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(applied.nftLive).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("nothing to do when the digests match", () => {
    expect(plan(before, applied).action).toBe("none");
  });

  it("a target change in place, computed from the applied table, and without the whole table in the plan", () => {
    const p = plan(after, applied);
    expect(p.action).toBe("update");
    expect(p.table).toBeNull();
    expect(p.reason).toMatch(/^load-balancer targets: 1 target chains and \d+ Maglev entries change$/);
  });

  it("a whole new table when the kernel's table changed outside symroute", () => {
    const ruleGone = listing.filter((o) => o.rule?.comment !== "stream-a: no flow matched");
    expect(plan(before, applied, ruleGone)).toMatchObject({ action: "replace", reason: "table changed outside symroute" });
    expect(plan(after, applied, ruleGone)).toMatchObject({ action: "replace", reason: "rules differ" });
  });

  it("reads state files that recorded the commands and the listing as JSON", () => {
    const old = { nftDesired: JSON.stringify(replaceTableCommands(before.nft!)), nftLive: JSON.stringify(listing) };
    expect(plan(before, { ...old, desired: { nft: before.nft } }).action).toBe("none");
    expect(plan(after, { ...old, desired: { nft: before.nft } }).action).toBe("update");
  });

  it("splits a large Maglev table into maps of MAP_CHUNK entries that an update addresses one by one", () => {
    const big = (text: string) => desiredOf(text.replace("    flows:", "    maglev: { size: 9973 }\n    flows:"));
    const b = big(example);
    const a = big(withoutD(example));
    expect(b.nft!.maps!.map((m) => m.elem.length)).toEqual([MAP_CHUNK, MAP_CHUNK, 9973 - 2 * MAP_CHUNK, MAP_CHUNK, MAP_CHUNK, 9973 - 2 * MAP_CHUNK]);
    const bigListing = structureOf(fullListing(b.nft!));
    const p = plan(a, { nftDesired: nftDesiredText(b.nft), nftLive: listingFingerprint(bigListing), desired: { nft: b.nft } }, bigListing);
    expect(p.action).toBe("update");
    const touched = new Set(p.commands!.flatMap((c) => Object.values(c as Record<string, { element?: { name: string } }>).map((v) => v.element?.name)).filter(Boolean));
    expect(touched).toEqual(new Set(b.nft!.maps!.map((m) => m.name)));
  });
});
