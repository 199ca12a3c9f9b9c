/**
 * This host's systemd version, for a networkd render when the user does not
 * say: `networkctl --version` or `systemctl --version` (the first line reads
 * `systemd 252 (252.38-1~deb12u1)`). Here because it runs the host's tools;
 * the render itself runs nothing.
 */
import type { Runner } from "./runner.js";

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

/** Asks the host's own tools; null when neither answers. */
export async function readSystemdVersion(runner: Runner): Promise<SystemdVersion | null> {
  for (const tool of ["networkctl", "systemctl"]) {
    try {
      const r = await runner.run([tool, "--version"], { allowFailure: true });
      const version = r.code === 0 ? parseSystemdVersion(r.stdout) : null;
      if (version !== null) return { version, source: `${tool} --version` };
    } catch {
      // not installed: try the next tool
    }
  }
  return null;
}
