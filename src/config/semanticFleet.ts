/**
 * Checks of `fleet` that need more than one field (issue 20): a member's
 * connection to etcd carries every registration of the fleet, so plain HTTP is
 * refused once it leaves the host, and TLS settings beside http:// endpoints
 * would be silently unused.
 */
import type { Config } from "./schema.js";
import type { PathIssue } from "./semantic.js";
import { parseAddress } from "../net/ip.js";

/** The host of an etcd endpoint URL ("http://[::1]:2379" gives "::1"), or null. */
export function endpointHost(url: string): string | null {
  const m = /^https?:\/\/(\[[^\]]+\]|[^:/]+):[0-9]+$/.exec(url);
  return m ? m[1].replace(/^\[|\]$/g, "") : null;
}

/** True when the endpoint is on this host (127.0.0.0/8, ::1, localhost): plain HTTP to it never crosses a network. */
export function isLoopbackEndpoint(url: string): boolean {
  const host = endpointHost(url);
  if (host === null) return false;
  if (host === "localhost") return true;
  const a = parseAddress(host);
  if (!a) return false;
  return a.family === 4 ? a.value >> 24n === 127n : a.value === 1n;
}

/** Every problem in the fleet section. */
export function checkFleet(config: Config): PathIssue[] {
  const fleet = config.fleet;
  if (!fleet) return [];
  const issues: PathIssue[] = [];
  const seen = new Set<string>();
  const { endpoints, tls } = fleet.etcd;
  endpoints.forEach((url, i) => {
    const path = ["fleet", "etcd", "endpoints", i];
    if (seen.has(url)) issues.push({ path, message: `endpoint ${url} is listed twice` });
    seen.add(url);
    const plain = url.startsWith("http://");
    if (plain && !isLoopbackEndpoint(url))
      issues.push({ path, message: `${url} is plain HTTP to another host: the fleet's registrations would cross the network in clear text; use https:// with fleet.etcd.tls (ca, cert, key), or an etcd on 127.0.0.1` });
    else if (plain && tls) issues.push({ path, message: `${url} is plain HTTP but fleet.etcd.tls is given: write https:// so the TLS settings are used` });
    const port = Number(/:([0-9]+)$/.exec(url)?.[1]);
    if (!(port >= 1 && port <= 65535)) issues.push({ path, message: `port ${port} is not 1-65535` });
  });
  return issues;
}
