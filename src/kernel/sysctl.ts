/**
 * Reads and writes /proc/sys values inside the runner's namespace. Reading
 * goes through one `grep -H` over the listed files (missing ones are skipped);
 * writing through one `sysctl -w` in the slash form, which keeps dots in
 * interface names intact.
 */
import type { Runner } from "./runner.js";

/** Current values of the keys that exist; missing keys are absent. */
export async function readSysctls(runner: Runner, keys: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (keys.length === 0) return out;
  const res = await runner.run(["grep", "-s", "-H", "", ...keys.map((k) => `/proc/sys/${k}`)], { allowFailure: true });
  // grep exits 2 for a missing file (a key that does not exist here); anything else is a read that failed
  if (res.code > 2 || /exec of .* failed/.test(res.stderr)) throw new Error(`reading sysctls failed: ${res.stderr.trim() || `grep exited ${res.code}`}`);
  for (const line of res.stdout.split("\n")) {
    const m = /^\/proc\/sys\/(.+?):(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].trim();
  }
  return out;
}

/** Writes the values in one process. */
export async function writeSysctls(runner: Runner, values: Record<string, string>): Promise<void> {
  const entries = Object.entries(values);
  if (entries.length === 0) return;
  for (const [key, value] of entries) {
    if (!/^[A-Za-z0-9_.@/-]+$/.test(key) || key.includes("..") || !/^-?[0-9]+$/.test(value))
      throw new Error(`refusing to write sysctl ${key}=${value}`);
  }
  await runner.run(["sysctl", "-q", "-w", ...entries.map(([k, v]) => `${k}=${v}`)]);
}
