/**
 * sd_notify for `Type=notify` units: READY=1, WATCHDOG=1, RELOADING=1,
 * STOPPING=1, STATUS=... Node has no unix datagram sockets, so the message
 * goes through `systemd-notify` (the unit sets NotifyAccess=all, since the
 * sender is a child). Without NOTIFY_SOCKET (not under systemd) it does nothing.
 *
 * Messages go out one at a time, in the order asked: each `systemd-notify`
 * waits (BARRIER=1) until the service manager has processed its message, and
 * the next starts only then. Two children started at once could otherwise
 * overtake each other, and a READY=1 seen before its RELOADING=1 leaves the
 * unit "reloading" until its timeout.
 *
 * `--pid=` names this process: systemd-notify then sends the message with this
 * process's credentials when it may (CAP_SYS_ADMIN), so systemd attributes it
 * to the main PID itself, and adds MAINPID= (the same PID, so nothing
 * changes). Without that capability, as in symroute.service, it falls back to
 * its own credentials, which NotifyAccess=all accepts; the barrier keeps it
 * alive until systemd has looked up its cgroup.
 */
import { spawn } from "node:child_process";

let queue: Promise<unknown> = Promise.resolve();
/** A WATCHDOG=1 queued and not yet started: a second one would add nothing. */
let watchdogQueued: Promise<boolean> | null = null;

function send(assignments: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn("systemd-notify", [`--pid=${process.pid}`, ...assignments], { stdio: "ignore" });
    child.on("error", () => resolve(false));
    child.on("exit", (code) => resolve(code === 0));
  });
}

/** Sends one notification; resolves when it was handed over (or there is no one to tell). */
export function sdNotify(...assignments: string[]): Promise<boolean> {
  if (!process.env.NOTIFY_SOCKET) return Promise.resolve(false);
  const watchdogOnly = assignments.length === 1 && assignments[0] === "WATCHDOG=1";
  if (watchdogOnly && watchdogQueued) return watchdogQueued;
  const sent = queue.then(() => {
    if (watchdogOnly) watchdogQueued = null;
    return send(assignments);
  });
  if (watchdogOnly) watchdogQueued = sent;
  queue = sent;
  return sent;
}

/** Resolves once every notification asked for so far has been handed over. */
export function sdNotifyDrained(): Promise<void> {
  return queue.then(() => undefined);
}

/**
 * CLOCK_MONOTONIC now, in microseconds: what systemd expects in
 * MONOTONIC_USEC= next to RELOADING=1 (process.hrtime is CLOCK_MONOTONIC on
 * Linux; performance.timeOrigin is wall-clock time).
 */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

/**
 * How often to send WATCHDOG=1, in milliseconds (half of WATCHDOG_USEC), or
 * null when no watchdog is asked of this process. Like sd_watchdog_enabled():
 * WATCHDOG_PID, when set, must be this process (a child started by the
 * service inherits the variables, and must not feed its parent's watchdog).
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number | null {
  const usec = Number(env.WATCHDOG_USEC ?? "");
  if (!Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== pid) return null;
  return usec / 2000;
}
