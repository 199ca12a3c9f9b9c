/**
 * symroute's nft tables as `nft -j` lists them, reduced to what plan compares.
 *
 * A listing has two parts of very different cost: the structure (table, chains,
 * rules, set and map declarations), which `nft -t list ruleset` prints in
 * milliseconds, and the elements of named sets and maps (the Maglev tables,
 * 4 × 10^5 entries for a thousand targets), which take nft about 5 µs each to
 * list. Plan and verify compare the structure; the elements are symroute's own
 * data, written in atomic transactions, and are compared only when a listing
 * has them (and then also digested), or taken from the table symroute applied.
 */
import { createHash } from "node:crypto";
import type { NftTable } from "../model/nftTable.js";

import type { NftObject } from "../model/nftTable.js";
export type { NftObject };

const PREFIX = "sha256:";

const digest = (text: string) => createHash("sha256").update(text).digest("hex");

/** The listing without the elements of named sets and maps: what a terse listing shows. */
export function structureOf(listing: NftObject[]): NftObject[] {
  return listing.map((o) => {
    const body = o.set ?? o.map;
    if (!body || !("elem" in body)) return o;
    const { elem: _elem, ...rest } = body;
    return { [o.set ? "set" : "map"]: rest };
  });
}

/** True when some named set or map of the listing carries its elements. */
function hasElements(listing: NftObject[]): boolean {
  return listing.some((o) => "elem" in (o.set ?? o.map ?? {}));
}

/**
 * A fingerprint of a listing, kept in the state after an apply to notice
 * changes made outside symroute: `sha256:STRUCTURE` for a terse listing,
 * `sha256:STRUCTURE:ELEMENTS` for a full one.
 */
export function listingFingerprint(listing: NftObject[] | null): string | null {
  if (!listing) return null;
  const structure = digest(JSON.stringify(structureOf(listing)));
  if (!hasElements(listing)) return `${PREFIX}${structure}`;
  const elements = digest(JSON.stringify(listing.filter((o) => o.set ?? o.map).map((o) => (o.set ?? o.map).elem ?? null)));
  return `${PREFIX}${structure}:${elements}`;
}

/**
 * Whether the table changed since a fingerprint (or, from older state files,
 * the listing's JSON text) was taken. Elements are compared only when both
 * sides have them: a terse listing cannot see them.
 */
export function listingChanged(recorded: string | null, listing: NftObject[]): boolean {
  if (recorded === null) return true;
  if (!recorded.startsWith(PREFIX)) return recorded !== JSON.stringify(listing);
  const [structure, elements] = recorded.slice(PREFIX.length).split(":");
  const [nowStructure, nowElements] = listingFingerprint(listing)!.slice(PREFIX.length).split(":");
  return structure !== nowStructure || (elements !== undefined && nowElements !== undefined && elements !== nowElements);
}

/**
 * A terse listing completed with the elements of the table symroute applied,
 * map by map and set by set, so that it recreates the table exactly (a
 * rollback's snapshot). Null when a named set or map of the listing is not in
 * that table: then only a full listing can tell its elements.
 */
export function withAppliedElements(listing: NftObject[], applied: NftTable): NftObject[] | null {
  const maps = new Map((applied.maps ?? []).map((m) => [m.name, m.elem.map(([k, chain]) => [k, { jump: { target: chain } }] as [number, unknown])]));
  const sets = new Map<string, unknown[]>((applied.sets ?? []).map((s) => [s.name, s.elem]));
  // flow memory: filled by packets, never by symroute; a table put back starts with it empty
  for (const f of applied.flowSets ?? []) sets.set(f.name, []);
  const out: NftObject[] = [];
  for (const o of listing) {
    const body = o.set ?? o.map;
    if (!body) {
      out.push(o);
      continue;
    }
    const elem = o.set ? sets.get(String(body.name)) : maps.get(String(body.name));
    if (elem === undefined) return null;
    const { elem: _listed, ...rest } = body;
    out.push({ [o.set ? "set" : "map"]: elem.length ? { ...rest, elem } : rest });
  }
  return out;
}
