/**
 * sd_notify for `Type=notify` units: READY=1, WATCHDOG=1, RELOADING=1,
 * STOPPING=1, STATUS=... Node has no unix datagram sockets, so the message
 * goes through `systemd-notify` (the unit sets NotifyAccess=all, since the
 * sender is a child). Without NOTIFY_SOCKET (not under systemd) it does nothing.
 */
import { spawn } from "node:child_process";

/** Sends one notification; resolves when it was handed over (or there is no one to tell). */
export function sdNotify(...assignments: string[]): Promise<boolean> {
  if (!process.env.NOTIFY_SOCKET) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn("systemd-notify", assignments, { stdio: "ignore" });
    child.on("error", () => resolve(false));
    child.on("exit", (code) => resolve(code === 0));
  });
}
