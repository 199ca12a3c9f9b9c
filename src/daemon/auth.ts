/**
 * Authentication of the API over TCP (issue 17): a request's bearer token,
 * compared with every registrant's token, becomes the `Caller` the API and the
 * registry judge it by. Failures are counted and logged, rate-limited, and
 * never with the token they carried.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Caller } from "./caller.js";
import type { ApiToken } from "./tokens.js";

/** Why a request was not authenticated: the label of `symroute_api_auth_failures_total`. */
export type AuthFailure = "missing" | "malformed" | "unknown-token";

/** The daemon event a failure is counted by (metrics.ts listens; the TCP API emits it). */
export const AUTH_FAILURE_EVENT = "apiAuthFailure";

/** Every reason, so the metric starts at 0 for each. */
export const AUTH_FAILURES: readonly AuthFailure[] = ["missing", "malformed", "unknown-token"];

// RFC 7235: the scheme is case-insensitive; RFC 6750's token68 has no spaces, so one field after it
const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

/** The tokens of a token file, ready for comparison: each hashed once, so every comparison is of equal lengths. */
export interface TokenSet {
  readonly tokens: readonly { entry: ApiToken; digest: Buffer }[];
}

/** Prepares parsed tokens for `authenticate`. */
export function tokenSet(tokens: readonly ApiToken[]): TokenSet {
  return { tokens: tokens.map((entry) => ({ entry, digest: digest(entry.token) })) };
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/**
 * The caller of a request, or why there is none. The given token is compared
 * with every token, in constant time and without stopping at a match, so the
 * time taken says neither which token nor how much of one was right.
 */
export function authenticate(req: IncomingMessage, set: TokenSet): { caller: Caller } | { failure: AuthFailure } {
  const header = req.headers.authorization;
  if (header === undefined || header === "") return { failure: "missing" };
  const m = BEARER.exec(header);
  if (!m) return { failure: "malformed" };
  const given = digest(m[1]);
  let found: ApiToken | null = null;
  for (const t of set.tokens) if (timingSafeEqual(given, t.digest) && !found) found = t.entry;
  if (!found) return { failure: "unknown-token" };
  return { caller: { kind: "token", name: found.name, balancers: found.balancers } };
}

/** Where failed authentications go: a log line (through the daemon's "log" event) and the metric. */
export interface AuthFailureSink {
  log(fields: Record<string, unknown>): void;
  count(reason: AuthFailure): void;
}

/**
 * Records failed authentications: each one counted, at most one log line per
 * `everyMs` (a client retrying a wrong token, or a scan, must not flood the
 * journal); the next line says how many were left out, and a timer writes the
 * left-out count when failures stop.
 */
export class AuthFailureLog {
  private last = -Infinity;
  private suppressed: Record<AuthFailure, number> = { missing: 0, malformed: 0, "unknown-token": 0 };
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly sink: AuthFailureSink,
    private readonly everyMs = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** One failure, from `remote` (an address; the token is never passed here). */
  record(reason: AuthFailure, remote: string | undefined): void {
    this.sink.count(reason);
    const t = this.now();
    if (t - this.last < this.everyMs) {
      this.suppressed[reason] += 1;
      this.timer ??= setTimeout(() => this.flush(), this.everyMs - (t - this.last)).unref();
      return;
    }
    this.last = t;
    this.sink.log({ msg: "API authentication failed", reason, remote: remote ?? null, ...this.takeSuppressed() });
  }

  /** Writes the count of failures left out, if any; stops the timer. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const left = this.takeSuppressed();
    if (!left.suppressed) return;
    this.last = this.now();
    this.sink.log({ msg: "API authentication failed", ...left });
  }

  private takeSuppressed(): { suppressed?: number; suppressedByReason?: Record<AuthFailure, number> } {
    const byReason = this.suppressed;
    const n = byReason.missing + byReason.malformed + byReason["unknown-token"];
    this.suppressed = { missing: 0, malformed: 0, "unknown-token": 0 };
    return n ? { suppressed: n, suppressedByReason: byReason } : {};
  }
}
