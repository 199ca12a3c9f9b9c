/**
 * Long-running helper processes for labs and tests (socat servers), started
 * inside a namespace and killed on teardown.
 */
import { spawn, type ChildProcess } from "node:child_process";

/** A process running in the background. */
export interface BackgroundProcess {
  pid: number | undefined;
  stop(): Promise<void>;
}

/** Starts argv inside the namespace (or the host) with no shell. */
export function startBackground(netns: string | undefined, argv: string[]): BackgroundProcess {
  const full = netns ? ["ip", "netns", "exec", netns, ...argv] : argv;  // long-lived helpers are never `ip` itself
  const child: ChildProcess = spawn(full[0], full.slice(1), { stdio: "ignore" });
  child.on("error", () => undefined);
  return {
    pid: child.pid,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => {
          child.kill("SIGKILL");
          resolve();
        }, 1000).unref();
      }),
  };
}
