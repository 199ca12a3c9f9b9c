/**
 * Starts this program again in the background, outliving the current command:
 * how `apply --confirm-timeout` leaves a watcher that reverts unless confirmed.
 */
import { spawn } from "node:child_process";

/** Spawns `node <this script> ...args` detached from the terminal. */
export function spawnSelfDetached(args: string[]): number | undefined {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args], { detached: true, stdio: "ignore" });
  child.unref();
  return child.pid;
}
