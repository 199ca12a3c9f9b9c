/**
 * The state file: the last applied state, sysctl originals and the apply
 * journal, under /run/symroute/ (one file per namespace). Written atomically
 * by rename so a crash never leaves half a file.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import type { AppliedRecord } from "../plan/live.js";
import type { Snapshot } from "../apply/snapshot.js";
import type { Desired } from "../model/desired.js";
import type { Extra } from "../model/extra.js";

export interface StateFile {
  version: 1;
  applied: (AppliedRecord & { desired: Desired; file?: string; at: string; priorities?: { first: number; last: number } }) | null;
  /** addresses and neighbour proxies symroute added (it owns only those) */
  ownedExtras?: Extra[];
  /** the value each sysctl had before symroute first changed it */
  sysctlOriginals: Record<string, string>;
  /** set while an apply runs; a leftover means the last one was cut short */
  journal: { phase: "applying"; startedAt: string; pid: number; snapshot: Snapshot } | null;
  /** an apply waiting for `symroute confirm` */
  pending: { token: string; deadline: string; snapshot: Snapshot } | null;
}

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
  return { version: 1, applied: null, sysctlOriginals: {}, journal: null, pending: null };
}

/** Reads the state file; an absent file is an empty state. */
export function readState(netns?: string): StateFile {
  const path = statePath(netns);
  if (!existsSync(path)) return emptyState();
  const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<StateFile>;
  return { ...emptyState(), ...parsed };
}

/** Writes the state file atomically. */
export function writeState(state: StateFile, netns?: string): void {
  const path = statePath(netns);
  mkdirSync(stateDir(), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state));
  renameSync(tmp, path);
}

/** Removes the state file (after destroy). */
export function removeState(netns?: string): void {
  rmSync(statePath(netns), { force: true });
}
