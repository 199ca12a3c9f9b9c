/**
 * Starts this program again in the background, outliving the current command:
 * how `apply --confirm-timeout` leaves a watcher that reverts unless confirmed.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

/** Spawns `node <this script> ...args` detached from the terminal. */
export function spawnSelfDetached(args: string[]): number | undefined {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args], { detached: true, stdio: "ignore" });
  child.unref();
  return child.pid;
}

/**
 * Stops a detached watcher, but only if that pid is still ours: its command
 * line must carry the token (a pid can be reused after the watcher ended).
 */
export function stopDetached(pid: number, token: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    if (!cmdline.includes(token)) return false;
    process.kill(pid, "SIGTERM");
    return true;
  } catch {
    return false;
  }
}
