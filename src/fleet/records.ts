/**
 * What the fleet's store holds, as zod schemas (issue 20). The store is
 * written by every member and by anyone with its credentials, so it is read
 * like the API's input: a record that does not validate is ignored and
 * reported, never trusted. A registered target is held to the same schema as
 * the API's (no command checks: a registration is data, never a program).
 */
import { z } from "zod";
import { MAX_DURATION_MS, targetSchema } from "../config/schema.js";

const isoTime = z.string().max(64).refine((s) => !Number.isNaN(Date.parse(s)), { error: "expected a date and time such as 2026-01-02T03:04:05.000Z" });
const shortName = z.string().min(1).max(128);

/** A registered target, as `targets/BALANCER/NAME` holds it (under the registration's etcd lease). */
export const targetRecordSchema = z.strictObject({
  version: z.literal(1),
  balancer: shortName,
  target: targetSchema
    .refine((t) => t.via !== undefined || t.via6 !== undefined, { error: "needs via and/or via6" })
    .refine((t) => t.check?.command === undefined, { error: "check.command: a registered target may carry tcp and http checks only" }),
  registeredAt: isoTime,
  /** who registered it ("local", or "token NAME"): only that registrant renews, removes or drains it */
  owner: shortName,
  /** the lease's length as granted, for display: etcd, not this number, decides when it ends */
  leaseMs: z.number().int().positive().max(MAX_DURATION_MS).nullable(),
});
export type TargetRecord = z.output<typeof targetRecordSchema>;

/** A drain, as `drains/BALANCER/NAME` holds it: under way until the deadline, then finished ("drained"). */
export const drainRecordSchema = z.strictObject({
  version: z.literal(1),
  balancer: shortName,
  target: shortName,
  since: isoTime,
  deadline: isoTime,
  owner: shortName,
});
export type DrainRecord = z.output<typeof drainRecordSchema>;

/** One balancer's Maglev inputs as a member sees them: enough to say how two members differ, not only that they do. */
export const balancerInputsSchema = z.strictObject({
  size: z.number().int().positive(),
  /** target name to its state in this member's table */
  targets: z.record(z.string().max(128), z.enum(["serving", "draining", "drained", "down"])),
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
});
export type BalancerInputs = z.output<typeof balancerInputsSchema>;

/** A member's record, under `members/MEMBER` with the member's own lease: it vanishes when the member does. */
export const memberRecordSchema = z.strictObject({
  version: z.literal(1),
  member: shortName,
  /** the config revision it runs; null for a member on its local file */
  appliedRevision: z.number().int().nonnegative().nullable(),
  balancers: z.record(z.string().max(128), balancerInputsSchema),
  targetsDown: z.array(z.string().max(256)).max(65536),
  vipsAnnounced: z.array(z.string().max(64)).max(4096),
  lastReconcile: isoTime.nullable(),
  /** whether the member has the store (false: it runs on its last state) */
  storeConnected: z.boolean(),
  updatedAt: isoTime,
});
export type MemberRecord = z.output<typeof memberRecordSchema>;

/** A pushed config revision, as `config/revisions/N` holds it: the file's text, validated before it was stored. */
export const configRevisionSchema = z.strictObject({
  version: z.literal(1),
  revision: z.number().int().positive(),
  pushedAt: isoTime,
  pushedBy: shortName,
  file: z.string().max(4096),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  text: z.string().max(16 * 1024 * 1024),
});
export type ConfigRevision = z.output<typeof configRevisionSchema>;

/** A record that did not validate: where it was and why, for the log and `fleet status`. */
export interface RejectedRecord {
  key: string;
  problems: string[];
}

/** Parses a value's JSON text against a schema; the problems when it does not hold. */
export function parseRecord<T>(schema: z.ZodType<T>, key: string, text: string): { ok: true; value: T } | { ok: false; rejected: RejectedRecord } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, rejected: { key, problems: [`not valid JSON (${(e as Error).message.slice(0, 200)})`] } };
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, rejected: { key, problems: parsed.error.issues.slice(0, 10).map((i) => `${i.path.length ? i.path.join(".") : "record"}: ${i.message}`) } };
}
