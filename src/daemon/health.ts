/**
 * The health of one uplink, judged from rounds of probes (pure: no clock, no
 * processes; the prober in kernel/prober.ts feeds it, the daemon reads it).
 *
 * A round is one probe to every target. It is a miss when every target
 * missed (one dead target does not take the uplink down) and a success when
 * at least one answered. The uplink goes down after `down` missed rounds in a
 * row; it comes back up after `up` successful rounds in a row, and only once
 * `hold` has passed since it went down (hysteresis against flapping). Latency
 * (last and EWMA) and loss over the last WINDOW rounds are kept per uplink and
 * per target.
 */
import { CHECK_DEFAULTS, durationMs, type Check } from "../config/schema.js";
import type { CheckMethod, CheckSettings, ProbeResult, Round } from "../model/check.js";

export type { CheckMethod, CheckSettings, ProbeResult, Round };


/** Rounds over which loss is counted (10 s at the default 200 ms). */
export const WINDOW = 50;
/** Weight of the newest sample in the latency EWMA (as TCP's smoothed RTT). */
export const EWMA_ALPHA = 0.125;

/**
 * A parsed (schema-valid) `uplinks[].check` as settings; defaults as in the
 * schema, and the timeout half the interval when absent: with 200 ms rounds and
 * 4 misses, a dead uplink is down 700 ms after its first lost probe, at most
 * 900 ms after the fault. A farther target needs a longer timeout (a timeout
 * above the interval is allowed; it delays detection by as much).
 */
export function checkSettings(check: Partial<Check> & { targets: string[] }): CheckSettings {
  const ms = (text: string | undefined, fallback: string): number => durationMs(text ?? fallback) ?? (durationMs(fallback) as number);
  const method = check.method ?? CHECK_DEFAULTS.method;
  const tcp = /^tcp:([0-9]+)$/.exec(method);
  const intervalMs = ms(check.interval, CHECK_DEFAULTS.interval);
  return {
    targets: [...check.targets],
    method: tcp ? { kind: "tcp", port: Number(tcp[1]) } : { kind: "icmp" },
    intervalMs,
    timeoutMs: check.timeout !== undefined ? ms(check.timeout, CHECK_DEFAULTS.interval) : Math.max(10, Math.round(intervalMs / 2)),
    down: check.down ?? CHECK_DEFAULTS.down,
    up: check.up ?? CHECK_DEFAULTS.up,
    holdMs: ms(check.hold, CHECK_DEFAULTS.hold),
  };
}


export type HealthState = "up" | "down";

/** A change of state, with what caused it. */
export interface Transition {
  from: HealthState;
  to: HealthState;
  at: number;
  reason: string;
}

/** Latency and loss of one target or of the whole uplink. */
export interface PathStats {
  /** the last answer's round-trip time (the uplink's: the fastest answer of the last answered round) */
  lastMs: number | null;
  ewmaMs: number | null;
  /** lost probes / probes over the last WINDOW rounds (uplink: missed rounds / rounds) */
  loss: number;
  sent: number;
  answered: number;
}

/** What the API shows of an uplink's health. */
export interface HealthSnapshot extends PathStats {
  state: HealthState;
  /** when the current state began */
  since: number;
  transitions: number;
  rounds: number;
  missesInARow: number;
  successesInARow: number;
  /** a successful streak long enough to come up, waiting for `hold` to pass (ms left), else null */
  holdLeftMs: number | null;
  /** the probe loss over the window across all targets (a round can succeed with some lost) */
  probeLoss: number;
  targets: ({ address: string } & PathStats)[];
}

/** A sliding count of misses over the last WINDOW samples, with a latency EWMA. */
class Path {
  private readonly window: boolean[] = [];
  private misses = 0;
  lastMs: number | null = null;
  ewmaMs: number | null = null;
  sent = 0;
  answered = 0;

  constructor(private readonly size = WINDOW) {}

  add(ok: boolean, rttMs: number | null): void {
    this.sent += 1;
    this.window.push(ok);
    if (!ok) this.misses += 1;
    if (this.window.length > this.size && !this.window.shift()) this.misses -= 1;
    if (!ok) return;
    this.answered += 1;
    if (rttMs === null) return;
    this.lastMs = rttMs;
    this.ewmaMs = this.ewmaMs === null ? rttMs : this.ewmaMs + EWMA_ALPHA * (rttMs - this.ewmaMs);
  }

  stats(): PathStats {
    return { lastMs: this.lastMs, ewmaMs: this.ewmaMs === null ? null : Math.round(this.ewmaMs * 1000) / 1000, loss: this.window.length ? this.misses / this.window.length : 0, sent: this.sent, answered: this.answered };
  }
}

/** The health state machine of one uplink. */
export class UplinkHealth {
  private state: HealthState;
  private since: number;
  private downSince: number | null;
  private misses = 0;
  private successes = 0;
  private transitions = 0;
  private rounds = 0;
  private lastAt: number;
  private readonly uplink = new Path();
  private readonly probes: Path;
  private readonly targets = new Map<string, Path>();

  /** `initial` is "up" by default: a daemon starting keeps routing by the uplink until its probes say otherwise. */
  constructor(
    readonly settings: CheckSettings,
    now: number,
    initial: HealthState = "up",
  ) {
    this.state = initial;
    this.since = now;
    this.lastAt = now;
    this.downSince = initial === "down" ? now : null;
    this.probes = new Path(WINDOW * Math.max(1, settings.targets.length));
    for (const t of settings.targets) this.targets.set(t, new Path());
  }

  get current(): HealthState {
    return this.state;
  }

  /** Counts one round; returns the transition it caused, else null. */
  record(round: Round): Transition | null {
    this.rounds += 1;
    this.lastAt = round.at;
    let best: number | null = null;
    for (const r of round.results) {
      let path = this.targets.get(r.target);
      if (!path) this.targets.set(r.target, (path = new Path()));
      const rtt = r.ok ? r.rttMs : null;
      path.add(r.ok, rtt);
      this.probes.add(r.ok, null);
      if (rtt !== null && (best === null || rtt < best)) best = rtt;
    }
    const success = round.results.some((r) => r.ok);
    this.uplink.add(success, best);
    if (success) {
      this.successes += 1;
      this.misses = 0;
    } else {
      this.misses += 1;
      this.successes = 0;
    }
    if (this.state === "up" && this.misses >= this.settings.down) {
      const lost = round.results.map((r) => r.target + (r.error ? ` (${r.error})` : "")).join(", ");
      return this.move("down", round.at, `${this.misses} missed rounds in a row (no answer from ${lost || "any target"})`);
    }
    if (this.state === "down" && this.successes >= this.settings.up && round.at - (this.downSince ?? round.at) >= this.settings.holdMs) {
      return this.move("up", round.at, `${this.successes} answered rounds in a row after ${((round.at - (this.downSince ?? round.at)) / 1000).toFixed(1)} s down`);
    }
    return null;
  }

  private move(to: HealthState, at: number, reason: string): Transition {
    const from = this.state;
    this.state = to;
    this.since = at;
    this.downSince = to === "down" ? at : null;
    this.transitions += 1;
    return { from, to, at, reason };
  }

  /** Everything the API and metrics show, as plain data. */
  snapshot(): HealthSnapshot {
    const waiting = this.state === "down" && this.successes >= this.settings.up;
    return {
      state: this.state,
      since: this.since,
      transitions: this.transitions,
      rounds: this.rounds,
      missesInARow: this.misses,
      successesInARow: this.successes,
      holdLeftMs: waiting ? Math.max(0, this.settings.holdMs - (this.lastAt - (this.downSince ?? this.lastAt))) : null,
      ...this.uplink.stats(),
      probeLoss: this.probes.stats().loss,
      targets: [...this.targets].map(([address, path]) => ({ address, ...path.stats() })),
    };
  }
}
