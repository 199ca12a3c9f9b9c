/**
 * The field builders the config's schema is made of (names, interfaces,
 * addresses, prefixes, integers, durations with bounds): one place, shared by
 * the schema's sections (schema.ts, schemaDaemon.ts).
 */
import { z } from "zod";
import { INTERFACE_NAME, OBJECT_NAME } from "./names.js";
import { addressProblem, prefixProblem, type AddressField, type PrefixField } from "./addresses.js";
import { expectedGot, quote } from "./messages.js";

/**
 * A type error that names the field's own expectation (zod names "number" for a
 * string given to an integer field). A schema's error also receives the issues
 * of its checks: those fall through (undefined) to messages.ts's error map.
 */
export const expecting =
  (what: string) =>
  (issue: { code?: string; input?: unknown }): string | undefined =>
    issue.code === "invalid_type" || issue.code === "invalid_union" ? expectedGot(what, issue.input) : undefined;

export const name = z
  .string()
  .regex(OBJECT_NAME, { error: (i) => `must be 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit; got ${quote(String(i.input))}` });
export const iface = z
  .string()
  .regex(INTERFACE_NAME, { error: (i) => `must be an interface name: 1-15 letters, digits, '_', '.', '@' or '-'; got ${quote(String(i.input))}` });

/** A string field holding one address, judged by addresses.ts. */
export function address(field: AddressField) {
  return z.string().superRefine((text, ctx) => {
    const problem = addressProblem(text, field);
    if (problem) ctx.addIssue({ code: "custom", message: problem, input: text });
  });
}

/** A string field holding a CIDR (or a bare address), judged by addresses.ts. */
export function prefix(field: PrefixField = {}) {
  return z.string().superRefine((text, ctx) => {
    const problem = prefixProblem(text, field);
    if (problem) ctx.addIssue({ code: "custom", message: problem, input: text });
  });
}

/** An integer within [min, max]; the bounds' messages come from messages.ts's error map unless `tooBig` words it. */
export function integer(min: number, max: number, tooBig?: (input: unknown) => string) {
  return z
    .number({ error: expecting("an integer") })
    .int({ error: expecting("an integer") })
    .min(min)
    .max(max, tooBig ? { error: (i) => tooBig(i.input) } : undefined);
}

export const tableId = integer(1, 0xfffffffe);

/** Largest Maglev table accepted: the paper's "large" size. Compile builds the table in memory and nft loads one map element per entry. */
export const MAGLEV_MAX_SIZE = 655373;

/** "1000-1999" or a single number, as used by allocate.tables and allocate.priorities. */
export const range = z.union(
  [
    z.string().regex(/^[0-9]+-[0-9]+$/, { error: (i) => `must be a range such as 1000-1999, got ${quote(String(i.input))}` }),
    integer(0, 0xffffffff),
  ],
  { error: expecting("a range such as 1000-1999 or a single number") },
);

export const HEX_MASK = /^0x[0-9a-fA-F]+$/;

/** A mark mask: 32 bits at most, as a number or `0x...` text; more bits are refused, never truncated. */
export const mask = z
  .union(
    [
      integer(1, 0xffffffff, (input) => `0x${Number(input).toString(16)} is beyond 32 bits: a mark mask is at most 0xffffffff`),
      z
        .string()
        .regex(HEX_MASK, { error: (i) => `must be a hex mask such as 0x00ff0000, got ${quote(String(i.input))}` })
        // the pattern (kept for the JSON Schema) takes any number of digits: the bits are counted here
        .refine((text) => !HEX_MASK.test(text) || BigInt(text) <= 0xffffffffn, { error: (i) => `${String(i.input)} is beyond 32 bits: a mark mask is at most 0xffffffff` }),
    ],
    { error: expecting("a mask such as 0x00ff0000") },
  )
  .describe("fwmark bits symroute may use");

export const PORT_SPEC = /^[0-9]{1,5}(-[0-9]{1,5})?$/;
export const portSpec = z
  .union([z.string(), z.number()], { error: expecting('a port or range such as "4000" or "4000-4010"') })
  .transform((v) => String(v))
  .superRefine((text, ctx) => {
    if (!PORT_SPEC.test(text)) ctx.addIssue({ code: "custom", message: `must be a port or range such as "4000" or "4000-4010", got ${quote(text)}`, input: text });
  });

export const gateway = (family: 4 | 6) => address({ family, use: "a gateway", other: family === 4 ? "gateway6" : "gateway" });

/** The one form of a duration in the config: "250ms", "30s", "2m". */
export const DURATION = /^([0-9]+)(ms|s|m)$/;

/** "250ms", "30s", "2m" in milliseconds; null for other text. The health check's durations and the daemon's share this form. */
export function durationMs(text: string): number | null {
  const m = DURATION.exec(text);
  if (!m) return null;
  const n = Number(m[1]);
  return m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000;
}

/** A duration of at least `min` ms (and at most an hour): the health check's interval, timeout and hold. */
export function checkDuration(min: number, what: string) {
  return z.string({ error: expecting("a duration such as 200ms or 10s") }).superRefine((text, ctx) => {
    const ms = durationMs(text);
    if (ms === null) ctx.addIssue({ code: "custom", message: `must be a duration such as 200ms, 10s or 1m; got ${quote(text)}`, input: text });
    else if (ms < min) ctx.addIssue({ code: "custom", message: `must be at least ${min}ms${what ? ` ${what}` : ""}; got ${text}`, input: text });
    else if (ms > 3_600_000) ctx.addIssue({ code: "custom", message: `must be at most 1h (3600s); got ${text}`, input: text });
  });
}

/**
 * The longest duration anything takes (leases, drains, flow memory, the full
 * reconcile): a day. Far below what a timer holds (2^31 ms), so no timer that
 * waits for one of them ever overflows.
 */
export const MAX_DURATION_MS = 86_400_000;

/** A bound as people write it: "24h", "10s", "250ms". */
export function formatBound(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** The duration form with bounds, for fields beyond the health checks (flow memory, leases). */
export function boundedDuration(min: number, max: number) {
  return z.string({ error: expecting("a duration such as 30s or 2m") }).superRefine((text, ctx) => {
    const ms = durationMs(text);
    if (ms === null) ctx.addIssue({ code: "custom", message: `must be a duration such as 200ms, 30s or 2m; got ${quote(text)}`, input: text });
    else if (ms < min || ms > max) ctx.addIssue({ code: "custom", message: `must be between ${formatBound(min)} and ${formatBound(max)}; got ${text}`, input: text });
  });
}

/** A field holding an absolute path of a file. */
export const absolutePath = z.string().regex(/^\/[^\0]*$/, { error: (i) => `must be an absolute path; got ${quote(String(i.input))}` });
