/**
 * The file of targets registered at run time and of drains, beside the state
 * file (`host.targets.json`, `netns-NAME.targets.json`): what lets them
 * survive a restart of `symroute run`. Written like the state (temp file,
 * fsync, rename, 0600, never through a symlink). Only the file's I/O is here:
 * its contents are checked by the daemon (daemon/registrationsFile.ts) against
 * the config's own target schema, which kernel/ may not import.
 */
import { lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { stateDir, writeFileAtomic } from "./state.js";

/** Where a namespace's (or the host's) registrations live. */
export function registrationsPath(netns?: string): string {
  return join(stateDir(), netns ? `netns-${netns}.targets.json` : "host.targets.json");
}

/** The file's text, or null when there is none; a symlink is refused, never followed. */
export function readRegistrationsText(netns?: string): { path: string; text: string | null } {
  const path = registrationsPath(netns);
  try {
    if (lstatSync(path).isSymbolicLink()) throw new Error(`${path} is a symbolic link; symroute never reads one`);
    return { path, text: readFileSync(path, "utf8") };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { path, text: null };
    throw e;
  }
}

/** Writes the registrations atomically. */
export function writeRegistrations(file: object, netns?: string): void {
  writeFileAtomic(registrationsPath(netns), JSON.stringify(file, null, 1));
}
