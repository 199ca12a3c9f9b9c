/**
 * Who is asking the daemon's API: the local unix socket (root or the socket's
 * group, trusted like the config file) or a named token over TCP (untrusted:
 * a registrant that may touch only the balancers its token allows, and only
 * the targets it registered itself).
 */
export type Caller = { kind: "local" } | { kind: "token"; name: string; balancers: readonly string[] | "*" };

/** The socket's caller: may do anything the API offers. */
export const LOCAL_CALLER: Caller = { kind: "local" };

/** What logs and records say of a caller ("local" or "token NAME"). */
export function callerName(caller: Caller): string {
  return caller.kind === "local" ? "local" : `token ${caller.name}`;
}

/** True when the caller may act on this balancer at all. */
export function callerMayUse(caller: Caller, balancer: string): boolean {
  return caller.kind === "local" || caller.balancers === "*" || caller.balancers.includes(balancer);
}
