/**
 * The state file: the last applied state, sysctl originals, the apply journal
 * and a pending confirmation, under /run/symroute/ (one file per namespace).
 * Read through a schema so a corrupt or newer file is named, never guessed at;
 * written through a new exclusive temp file, fsync and rename, never through a
 * symlink, so a crash or a planted link never leaves half a file or writes
 * elsewhere.
 */
import { closeSync, constants, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync, chmodSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { z } from "zod";
import type { AppliedRecord } from "../model/live.js";
import type { Snapshot } from "../model/snapshot.js";
import type { Desired } from "../model/desired.js";
import type { Extra } from "../model/extra.js";

/** The version this symroute writes and reads. */
export const STATE_VERSION = 1;

/** What the last successful apply left, with the desired state it aimed at. */
export type AppliedState = AppliedRecord & { desired: Desired; file?: string; at: string; priorities?: { first: number; last: number } };

/** The parts of a state an apply changes: kept in a pending confirmation so a revert puts them back. */
export interface StateBefore {
  applied: AppliedState | null;
  sysctlOriginals: Record<string, string>;
  ownedExtras: Extra[];
}

export interface StateFile {
  version: 1;
  applied: AppliedState | null;
  /** addresses and neighbour proxies symroute added (it owns only those) */
  ownedExtras?: Extra[];
  /** the value each sysctl had before symroute first changed it */
  sysctlOriginals: Record<string, string>;
  /** set while an apply runs; a leftover means the last one was cut short */
  journal: { phase: "applying"; startedAt: string; pid: number; snapshot: Snapshot } | null;
  /** an apply waiting for `symroute confirm`: the revert puts `before` back */
  pending: { token: string; deadline: string; snapshot: Snapshot; before?: StateBefore; pid?: number } | null;
}

/** A state file that cannot be used as it is: corrupt, of another version, or unreadable. */
export class StateFileError extends Error {
  /** an unusable state stays unusable until someone moves it or runs destroy */
  readonly kind = "refused" as const;
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`state file ${path}: ${reason}; 'symroute destroy' still removes what symroute owns (found by its kernel tags) and moves the file aside, or move the file away yourself`);
    this.name = "StateFileError";
  }
}

// Only the outline is checked: the objects inside were written by this same version of symroute.
const objectList = z.array(z.record(z.string(), z.unknown()));
const snapshotSchema = z.looseObject({ rules: objectList, routes: objectList, sysctls: z.record(z.string(), z.string()) });
const appliedSchema = z.looseObject({ desired: z.looseObject({ rules: objectList, routes: objectList, sysctls: objectList }), at: z.string() });
const beforeSchema = z.object({ applied: appliedSchema.nullable(), sysctlOriginals: z.record(z.string(), z.string()), ownedExtras: objectList });
const stateSchema = z.object({
  version: z.literal(STATE_VERSION),
  applied: appliedSchema.nullable(),
  ownedExtras: objectList.optional(),
  sysctlOriginals: z.record(z.string(), z.string()),
  journal: z.object({ phase: z.literal("applying"), startedAt: z.string(), pid: z.number(), snapshot: snapshotSchema }).nullable(),
  pending: z.object({ token: z.string(), deadline: z.string(), snapshot: snapshotSchema, before: beforeSchema.optional(), pid: z.number().optional() }).nullable(),
});

/** The directory of state files; SYMROUTE_STATE_DIR moves it (tests do). */
export function stateDir(): string {
  return process.env.SYMROUTE_STATE_DIR ?? "/run/symroute";
}

/** The state file of a namespace, or of the host. */
export function statePath(netns?: string): string {
  return join(stateDir(), netns ? `netns-${netns}.json` : "host.json");
}

/** A state file with nothing recorded. */
export function emptyState(): StateFile {
  return { version: STATE_VERSION, applied: null, sysctlOriginals: {}, journal: null, pending: null };
}

/** Parses a state file's text; throws StateFileError naming the file and what is wrong. */
export function parseState(text: string, path: string): StateFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new StateFileError(path, `not valid JSON (${(e as Error).message})`);
  }
  const version = (raw as { version?: unknown } | null)?.version;
  if (typeof version === "number" && version > STATE_VERSION)
    throw new StateFileError(path, `written by a newer symroute (state version ${version}; this one reads version ${STATE_VERSION}): use that symroute`);
  const parsed = stateSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new StateFileError(path, `not a symroute state (${first.path.join(".") || "top level"}: ${first.message})`);
  }
  return { ...emptyState(), ...(parsed.data as unknown as StateFile) };
}

/** Reads the state file; an absent file is an empty state, an unusable one a StateFileError. */
export function readState(netns?: string): StateFile {
  const path = statePath(netns);
  let text: string;
  try {
    if (lstatSync(path).isSymbolicLink()) throw new StateFileError(path, "is a symbolic link; symroute never reads or writes its state through one");
    text = readFileSync(path, "utf8");
  } catch (e) {
    if (e instanceof StateFileError) throw e;
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return emptyState();
    throw new StateFileError(path, `cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseState(text, path);
}

/**
 * Reads the state file, taking an unusable one (corrupt, of another version) as
 * empty and handing back why: for commands that work from the kernel's own tags
 * then (status, destroy) or never write the state (render, trace, doctor).
 */
export function readStateTolerant(netns?: string): { state: StateFile; problem: StateFileError | null } {
  try {
    return { state: readState(netns), problem: null };
  } catch (e) {
    if (!(e instanceof StateFileError)) throw e;
    return { state: emptyState(), problem: e };
  }
}

/** Makes the state directory (0700), refusing one that is a symlink or not a directory. */
export function ensureStateDir(): string {
  const dir = stateDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (st.isSymbolicLink() || !st.isDirectory()) throw new Error(`state directory ${dir} is not a plain directory; refusing to use it`);
  if ((st.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
  return dir;
}

/** Writes the state file: new exclusive temp file (0600, no symlink followed), fsync, rename, fsync of the directory. */
export function writeState(state: StateFile, netns?: string): void {
  writeFileAtomic(statePath(netns), JSON.stringify(state));
}

/** Writes a file of the state directory as the state is written: never half, never through a symlink, 0600. */
export function writeFileAtomic(path: string, text: string): void {
  const dir = ensureStateDir();
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    const data = Buffer.from(text);
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  const dfd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/** Removes the state file (after destroy). */
export function removeState(netns?: string): void {
  rmSync(statePath(netns), { force: true });
}

/** Moves an unusable state file aside (destroy does, after cleaning up by the kernel's tags); returns the new name. */
export function moveStateAside(netns?: string): string {
  const path = statePath(netns);
  const aside = `${path}.unusable-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  renameSync(path, aside);
  return aside;
}
