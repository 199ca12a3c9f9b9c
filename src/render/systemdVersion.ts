/**
 * The systemd version a networkd render aims at, when the user does not say:
 * this host's, from `networkctl --version` or `systemctl --version` (the first
 * line reads `systemd 252 (252.38-1~deb12u1)`), else Debian 12's.
 */
import type { Runner } from "../kernel/runner.js";
import { DEFAULT_SYSTEMD_VERSION } from "./index.js";

/** A version and where it came from, for the user to see. */
export interface SystemdVersion {
  version: number;
  source: string;
}

/** The version number in `--version` output, or null. */
export function parseSystemdVersion(text: string): number | null {
  const m = /^systemd (\d+)\b/m.exec(text);
  return m ? Number(m[1]) : null;
}

/** Asks the host's own tools; falls back to DEFAULT_SYSTEMD_VERSION when neither answers. */
export async function detectSystemdVersion(runner: Runner): Promise<SystemdVersion> {
  for (const tool of ["networkctl", "systemctl"]) {
    try {
      const r = await runner.run([tool, "--version"], { allowFailure: true });
      const version = r.code === 0 ? parseSystemdVersion(r.stdout) : null;
      if (version !== null) return { version, source: `${tool} --version` };
    } catch {
      // not installed: try the next tool, then the default
    }
  }
  return { version: DEFAULT_SYSTEMD_VERSION, source: "default (no networkctl or systemctl here)" };
}
