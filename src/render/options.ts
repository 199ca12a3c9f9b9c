/**
 * The render command's options beyond the format, turned into RenderOptions:
 * kept here so the command itself only passes them through.
 */
import { InvalidArgumentError } from "commander";
import { DEFAULT_SYSTEMD_VERSION, type RenderFormat, type RenderOptions } from "./index.js";

/** The render command's own flags, as commander hands them over. */
export interface RenderFlags {
  systemdVersion?: number;
  offline?: boolean;
}

/** Help text of `--systemd-version`. */
export const SYSTEMD_VERSION_HELP = `systemd version of the target host, for --format networkd (default: this host's networkctl --version; ${DEFAULT_SYSTEMD_VERSION} with --offline or without systemd)`;

/** Commander's parser for `--systemd-version`: a plain version number such as 252. */
export function parseSystemdVersionFlag(value: string): number {
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1) throw new InvalidArgumentError("not a systemd version number (e.g. 252)");
  return Number(value);
}

/**
 * RenderOptions for a format. The version is looked up only when it matters
 * (networkd) and the user allows reading this host (no --offline): an offline
 * render is the same on every machine. The caller reads the host (render/
 * runs nothing).
 */
export async function renderOptionsFor(format: RenderFormat, flags: RenderFlags, hostVersion: () => Promise<number>): Promise<RenderOptions> {
  if (flags.systemdVersion !== undefined) return { systemdVersion: flags.systemdVersion };
  if (format !== "networkd" || flags.offline) return {};
  return { systemdVersion: await hostVersion() };
}
