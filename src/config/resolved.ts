/**
 * A config after every check, with ranges and masks turned into numbers, so
 * compile never parses text again.
 */
import type { Config } from "./schema.js";
import type { ConfigIssue, FieldPath } from "./errors.js";

/** An inclusive numeric range from allocate.*. */
export interface IdRange {
  first: number;
  last: number;
}

/** The validated config plus its parsed allocation settings. */
export interface ResolvedConfig {
  file: string;
  config: Config;
  tables: IdRange;
  priorities: IdRange;
  markMask: number;
  /** problems that do not stop the config (ignored fields, half-served families) */
  warnings: ConfigIssue[];
  /** gives problems found later (against the host's facts) their line and column; absent for configs built in code */
  place?: (issues: { path: FieldPath; message: string }[]) => ConfigIssue[];
}

/** Parses "1000-1999" (or one number) into a range; null when malformed. */
export function parseRange(value: string | number): IdRange | null {
  if (typeof value === "number") return { first: value, last: value };
  const m = /^([0-9]+)-([0-9]+)$/.exec(value);
  if (!m) return null;
  return { first: Number(m[1]), last: Number(m[2]) };
}

/** Parses a mask written as a number or `0x...` text. */
export function parseMask(value: string | number): number {
  return typeof value === "number" ? value >>> 0 : Number.parseInt(value, 16) >>> 0;
}
