/** Helpers for symroute's unit files: reading their settings and checking them with `systemd-analyze verify`. */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const repo = join(import.meta.dirname, "..", "..");

/** The repository's unit files. */
export const UNIT_DIR = join(repo, "systemd");

/** The CLI bundle the units run (`npm run -s build`). */
export const BUNDLE = join(repo, "dist", "symroute.mjs");

/** The text of one of the repository's units. */
export function unitText(name: string): string {
  return readFileSync(join(UNIT_DIR, name), "utf8");
}

/** Every `Key=value` of a section, in order (keys may repeat, as ExecStart= does). */
export function unitSettings(text: string, section: string): [string, string][] {
  const out: [string, string][] = [];
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    if (line.startsWith("[")) {
      current = line.slice(1, -1);
      continue;
    }
    if (current !== section) continue;
    const eq = line.indexOf("=");
    out.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return out;
}

/** The last value of a key (what systemd uses for single-valued settings), or undefined. */
export function unitValue(text: string, section: string, key: string): string | undefined {
  return unitSettings(text, section).filter(([k]) => k === key).at(-1)?.[1];
}

/**
 * Installs the bundle into a temporary root the way the unit's comment says
 * (ROOT/usr/lib/symroute/symroute.mjs, ROOT/usr/bin/symroute a symlink to
 * it) and writes the unit next to it with /usr/bin/symroute pointing there:
 * `systemd-analyze verify` checks that ExecStart= names an executable.
 */
export function installForVerify(name: string): { dir: string; unit: string; binary: string } {
  const dir = mkdtempSync(join(tmpdir(), "symroute-unit-"));
  mkdirSync(join(dir, "usr", "lib", "symroute"), { recursive: true });
  mkdirSync(join(dir, "usr", "bin"), { recursive: true });
  copyFileSync(BUNDLE, join(dir, "usr", "lib", "symroute", "symroute.mjs"));
  chmodSync(join(dir, "usr", "lib", "symroute", "symroute.mjs"), 0o755);
  const binary = join(dir, "usr", "bin", "symroute");
  symlinkSync(join(dir, "usr", "lib", "symroute", "symroute.mjs"), binary);
  const unit = join(dir, name);
  writeFileSync(unit, unitText(name).replaceAll("/usr/bin/symroute", binary));
  return { dir, unit, binary };
}

/** `systemd-analyze verify` of unit files, run from their directory (so a template's instance finds the template). */
export function verify(dir: string, ...units: string[]): { code: number; output: string } {
  const r = spawnSync("systemd-analyze", ["verify", ...units], { cwd: dir, encoding: "utf8", env: { ...process.env, SYSTEMD_LOG_COLOR: "0" } });
  return { code: r.status ?? 1, output: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}
