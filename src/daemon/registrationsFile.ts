/**
 * What the registrations file (kernel/registrations.ts) must hold, checked
 * with the config's own target schema: a target written by hand or by an older
 * symroute with a wrong type inside (a name that is a number) would otherwise
 * pass and fail every reconcile after. A file that does not pass stops the
 * daemon at start, named, with what to do: fix it or remove it. It is never
 * moved aside or rewritten: the targets in it still carry traffic, and only the
 * operator knows whether they should.
 */
import { z } from "zod";
import { MAX_DURATION_MS, targetSchema } from "../config/schema.js";
import { readRegistrationsText } from "../engine/index.js";

const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), { error: "expected a date and time such as 2026-01-02T03:04:05.000Z" });

const registrationSchema = z.strictObject({
  balancer: z.string().min(1),
  target: targetSchema.refine((t) => t.via !== undefined || t.via6 !== undefined, { error: "needs via and/or via6" }),
  registeredAt: isoTime,
  leaseMs: z.number().int().positive().max(MAX_DURATION_MS).nullable(),
  expiresAt: isoTime.nullable(),
  /** who registered it ("local", or "token NAME"): only that registrant renews, removes or drains it; absent in files before owners */
  owner: z.string().min(1).optional(),
});

const drainSchema = z.strictObject({ balancer: z.string().min(1), target: z.string().min(1), since: isoTime, deadline: isoTime });

const fileSchema = z.strictObject({
  version: z.literal(1),
  registrations: z.array(registrationSchema),
  drains: z.array(drainSchema),
  /** the file's own targets whose drain finished: out of the table until undrained ("BALANCER/TARGET") */
  drained: z.array(z.string().min(1)),
});

/** What the file holds. */
export interface RegistrationsFile {
  version: 1;
  registrations: { balancer: string; target: Record<string, unknown>; registeredAt: string; leaseMs: number | null; expiresAt: string | null; owner?: string }[];
  drains: z.output<typeof drainSchema>[];
  drained: string[];
}

/** The file with nothing in it (as when it is absent). */
export function emptyRegistrations(): RegistrationsFile {
  return { version: 1, registrations: [], drains: [], drained: [] };
}

/** A registrations file the daemon will not start with: its path and every problem, located. */
export class RegistrationsFileError extends Error {
  constructor(
    readonly path: string,
    readonly problems: string[],
  ) {
    super(
      `${path}: not a usable registrations file:\n  ${problems.join("\n  ")}\n` +
        "symroute run does not start with it: fix the file, or remove it (the targets registered in it are then forgotten and must register again)",
    );
    this.name = "RegistrationsFileError";
  }
}

/** Checks a registrations file's text; throws RegistrationsFileError naming `path` and each problem. */
export function parseRegistrations(text: string, path: string): RegistrationsFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new RegistrationsFileError(path, [`not valid JSON (${(e as Error).message})`]);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) throw new RegistrationsFileError(path, parsed.error.issues.slice(0, 20).map((i) => `${i.path.length ? i.path.join(".") : "top level"}: ${i.message}`));
  return parsed.data;
}

/** Reads and checks a namespace's registrations; none when the file is absent. */
export function loadRegistrations(netns?: string): RegistrationsFile {
  const { path, text } = readRegistrationsText(netns);
  return text === null ? emptyRegistrations() : parseRegistrations(text, path);
}
