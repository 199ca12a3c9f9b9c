/**
 * Checks of `daemon` that need more than one field: the API over TCP in plain
 * HTTP on a network address, where its bearer tokens would cross the network
 * in clear text (issue 17), is refused.
 */
import type { Config } from "./schema.js";
import type { PathIssue } from "./semantic.js";
import { parseAddress } from "../net/ip.js";

/** True for an ADDRESS:PORT on 127.0.0.0/8 or ::1 (or ::ffff:127.x.y.z): traffic that never leaves the host. */
export function isLoopbackListen(listen: string): boolean {
  const m = /^\[?([^\]]+)\]?:[0-9]+$/.exec(listen);
  const a = m ? parseAddress(m[1]) : null;
  if (!a) return false;
  if (a.family === 4) return a.value >> 24n === 127n;
  return a.value === 1n || a.value >> 24n === 0xffff7fn;
}

/** Every problem in the daemon section. */
export function checkDaemon(config: Config): PathIssue[] {
  const api = config.daemon?.api;
  if (!api || api.tls || isLoopbackListen(api.listen)) return [];
  return [{ path: ["daemon", "api", "listen"], message: `${api.listen} is not a loopback address: the API on a network needs daemon.api.tls (cert and key), or listen on 127.0.0.1 or [::1]` }];
}
