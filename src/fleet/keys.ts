/**
 * The fleet's key layout in etcd, named in one place (issue 20). Every key of a
 * fleet lives under `PREFIX + FLEET + "/"`; nothing else in symroute builds a
 * key by hand, so the layout documented in docs/fleet.md is this file.
 *
 *   targets/BALANCER/NAME     a registered target, under its registration's lease
 *   drains/BALANCER/NAME      a drain under way or finished
 *   members/MEMBER            a member's record, under the member's own lease
 *   config/revisions/N        a pushed config revision (N zero-padded, so keys sort by N)
 *   config/latest             the number of the latest revision
 */

/** What a key under the fleet's root is about. */
export type FleetKey =
  | { kind: "target"; balancer: string; name: string }
  | { kind: "drain"; balancer: string; name: string }
  | { kind: "member"; member: string }
  | { kind: "configRevision"; revision: number }
  | { kind: "configLatest" };

/** Digits of a revision in its key: keys sort as numbers up to 10^12 revisions. */
const REVISION_DIGITS = 12;

/** A segment a key may hold: the config's object names (no '/', so a key splits back unambiguously). */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** The root of one fleet's keys: PREFIX + FLEET + "/". */
export function fleetRoot(prefix: string, fleet: string): string {
  return `${prefix}${fleet}/`;
}

/** Key builders of one fleet. */
export class FleetKeys {
  constructor(readonly root: string) {}

  target(balancer: string, name: string): string {
    return `${this.root}targets/${segment(balancer)}/${segment(name)}`;
  }
  drain(balancer: string, name: string): string {
    return `${this.root}drains/${segment(balancer)}/${segment(name)}`;
  }
  member(member: string): string {
    return `${this.root}members/${segment(member)}`;
  }
  configRevision(revision: number): string {
    if (!Number.isSafeInteger(revision) || revision < 1) throw new RangeError(`config revision must be a positive integer, got ${revision}`);
    return `${this.root}config/revisions/${String(revision).padStart(REVISION_DIGITS, "0")}`;
  }
  configLatest(): string {
    return `${this.root}config/latest`;
  }
  /** The prefix of a kind of key, for range reads: "members/" and so on. */
  under(kind: "targets" | "drains" | "members" | "config/revisions"): string {
    return `${this.root}${kind}/`;
  }

  /** What a key under the root names; null for a key outside the layout (ignored, and reported by the caller). */
  parse(key: string): FleetKey | null {
    if (!key.startsWith(this.root)) return null;
    const parts = key.slice(this.root.length).split("/");
    const ok = (s: string | undefined): s is string => s !== undefined && SEGMENT.test(s);
    if (parts.length === 3 && (parts[0] === "targets" || parts[0] === "drains") && ok(parts[1]) && ok(parts[2]))
      return { kind: parts[0] === "targets" ? "target" : "drain", balancer: parts[1], name: parts[2] };
    if (parts.length === 2 && parts[0] === "members" && ok(parts[1])) return { kind: "member", member: parts[1] };
    if (parts.length === 3 && parts[0] === "config" && parts[1] === "revisions" && new RegExp(`^[0-9]{${REVISION_DIGITS}}$`).test(parts[2])) {
      const revision = Number(parts[2]);
      return revision >= 1 ? { kind: "configRevision", revision } : null;
    }
    if (parts.length === 2 && parts[0] === "config" && parts[1] === "latest") return { kind: "configLatest" };
    return null;
  }
}

function segment(s: string): string {
  if (!SEGMENT.test(s)) throw new RangeError(`'${s}' cannot be part of a fleet key: 1-63 letters, digits, '_', '.' or '-'`);
  return s;
}

/** The key just past every key that starts with `prefix`, as etcd's range_end for a prefix read. */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] < 0xff) {
      const out = Buffer.from(b.subarray(0, i + 1));
      out[i] += 1;
      return out;
    }
  }
  return Buffer.from([0]);
}
