/**
 * A health check as the prober runs it and the results it hands back: plain
 * data shared by kernel/ (which sends the probes) and daemon/ (which judges
 * the rounds), so kernel/ needs nothing above model/.
 */

/** How a probe is sent. */
export type CheckMethod =
  | { kind: "icmp" }
  | { kind: "tcp"; port: number }
  | { kind: "http"; port: number; path: string; status: number }
  /** argv run without a shell; `env` is what it is told about the target */
  | { kind: "command"; argv: string[]; env: Record<string, string> };

/** A check with its defaults filled in and its durations in milliseconds. */
export interface CheckSettings {
  targets: string[];
  method: CheckMethod;
  intervalMs: number;
  /** a probe answered later than this is a miss; default: half the interval */
  timeoutMs: number;
  down: number;
  up: number;
  holdMs: number;
}

/** One probe's outcome. */
export interface ProbeResult {
  target: string;
  ok: boolean;
  /** round-trip time when answered */
  rttMs: number | null;
  /** why it could not be sent (no source address, the helper died), when known */
  error?: string;
}

/** One probe to every target, closed at `at` (milliseconds on a monotonic clock). */
export interface Round {
  at: number;
  results: ProbeResult[];
}
