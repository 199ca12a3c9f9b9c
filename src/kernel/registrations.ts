/**
 * The file of targets registered at run time and of drains, beside the state
 * file (`host.targets.json`, `netns-NAME.targets.json`): what lets them
 * survive a restart of `symroute run`. Written like the state (temp file,
 * fsync, rename, 0600, never through a symlink) and validated when read.
 */
import { lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { stateDir, writeFileAtomic } from "./state.js";

const registrationSchema = z.object({
  balancer: z.string(),
  target: z.record(z.string(), z.unknown()),
  registeredAt: z.string(),
  leaseMs: z.number().nullable(),
  expiresAt: z.string().nullable(),
  /** who registered it ("local", or "token NAME"): only that registrant renews, removes or drains it; absent in files before owners */
  owner: z.string().optional(),
});

const drainSchema = z.object({ balancer: z.string(), target: z.string(), since: z.string(), deadline: z.string() });

const fileSchema = z.object({
  version: z.literal(1),
  registrations: z.array(registrationSchema),
  drains: z.array(drainSchema),
  /** the file's own targets whose drain finished: out of the table until undrained */
  drained: z.array(z.string()),
});

/** What the file holds. */
export type RegistrationsFile = z.output<typeof fileSchema>;

/** Where a namespace's (or the host's) registrations live. */
export function registrationsPath(netns?: string): string {
  return join(stateDir(), netns ? `netns-${netns}.targets.json` : "host.targets.json");
}

/** Reads the registrations; none when the file is absent. A corrupt file is an error naming it. */
export function readRegistrations(netns?: string): RegistrationsFile {
  const path = registrationsPath(netns);
  let text: string;
  try {
    if (lstatSync(path).isSymbolicLink()) throw new Error(`${path} is a symbolic link; symroute never reads one`);
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, registrations: [], drains: [], drained: [] };
    throw e;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${path}: not a registrations file (${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message})`);
  return parsed.data;
}

/** Writes the registrations atomically. */
export function writeRegistrations(file: RegistrationsFile, netns?: string): void {
  writeFileAtomic(registrationsPath(netns), JSON.stringify(file, null, 1));
}
