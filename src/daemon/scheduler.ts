/**
 * When the daemon's one reconcile runs (issue 18, item 2): requests from
 * kernel events, health transitions, registrations and the periodic full
 * reconcile are coalesced into runs; a burst waits for quiet (debounce) but
 * never longer than the maximum wait; a failure backs off, doubling, and the
 * kind of the failure (never its text) decides whether it is retried at once.
 * Time comes from an injected clock, so every one of these rules is tested
 * without a kernel and without sleeping. After `stop()` begins, nothing new
 * starts; `stop()` resolves once the run in flight has ended.
 */

/** The time and timers the runner uses: the system's, or a test's fake. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The longest delay node's timers hold; beyond it node fires at once, in a loop. */
const TIMER_MAX_MS = 2 ** 31 - 1;

/**
 * Node's clock; timers never keep the process alive by themselves, and one
 * asked for beyond what a timer holds fires at the most it holds (whoever set
 * it looks again then).
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, Math.min(ms, TIMER_MAX_MS));
    t.unref?.();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * How a run ended, as the runner needs it: `retryable` (a race with another
 * writer: once more at once), `conflict` (another tool's object in the way:
 * nothing to retry until an event says it moved), `refused` and `fatal`
 * (back off, doubling).
 */
export type RunKind = "ok" | "retryable" | "conflict" | "refused" | "fatal";

/** What the runner is given to do. */
export interface RunnerOptions<Reason, Result> {
  clock: Clock;
  /** quiet time after a request before its run */
  debounceMs: number;
  /** the longest a request waits behind a stream of others */
  maxDelayMs: number;
  /** a full run this often besides the requests (0: none) */
  intervalMs: number;
  /** the first backoff after a failure, doubled up to the maximum */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** runs one reconcile for the reasons gathered; `full` when any asked for a full comparison; `since`: the first request's time */
  run: (reasons: Reason[], full: boolean, since: number) => Promise<{ kind: RunKind; result: Result }>;
  /** the reasons the runner gives its own runs: the periodic one and a retry */
  intervalReason?: Reason;
  retryReason?: Reason;
  /** told after each run how it ended and the backoff now in force (0: none, or a retry at once) */
  settled?: (kind: RunKind, backoffMs: number) => void;
}

/** How a request wants its run. */
export interface RequestOptions {
  /** the quiet time before it (default: the debounce) */
  delayMs?: number;
  /** a full comparison, not only what the events name */
  full?: boolean;
  /** runs even while a failure backs off (a link came back: the news a failing repair waits for) */
  urgent?: boolean;
}

/** Thrown to a caller that asks for a run after stop began. */
export class RunnerStopped extends Error {
  constructor() {
    super("the daemon is stopping");
  }
}

/** The reconcile runner of one daemon. */
export class ReconcileRunner<Reason, Result> {
  private pending: Reason[] = [];
  private pendingFull = false;
  /** a run was asked for since the last one started, first at this time */
  private wanted = false;
  private firstAt: number | null = null;
  /** the pending requests' quiet point (the latest they wish to wait to) and hard limit (the soonest any must run) */
  private wishAt: number | null = null;
  private limitAt: number | null = null;
  private timer: unknown = null;
  private dueAt: number | null = null;
  private intervalTimer: unknown = null;
  private inFlight: Promise<Result> | null = null;
  private shared: Promise<Result> | null = null;
  private backoff = 0;
  private lastFailureAt = 0;
  private retried = false;
  private stopping = false;
  private readonly min: number;
  private readonly max: number;

  constructor(private readonly options: RunnerOptions<Reason, Result>) {
    this.min = options.backoffMinMs ?? 100;
    this.max = options.backoffMaxMs ?? 30_000;
  }

  /** Starts the periodic full run. */
  start(): void {
    if (this.stopping || this.options.intervalMs <= 0) return;
    const tick = () => {
      this.intervalTimer = this.options.clock.setTimeout(tick, this.options.intervalMs);
      this.request(this.own(this.options.intervalReason), { delayMs: 0, full: true });
    };
    this.intervalTimer = this.options.clock.setTimeout(tick, this.options.intervalMs);
  }

  /** The backoff in force now (0 when the last run went well): the API shows it. */
  backoffMs(): number {
    return this.backoff;
  }

  /** True while a run is under way. */
  busy(): boolean {
    return this.inFlight !== null;
  }

  /** Asks for a run for these reasons, after the quiet time; a burst of requests shares one run. */
  request(reasons: Reason[], options: RequestOptions = {}): void {
    if (this.stopping) return;
    const { clock } = this.options;
    const now = clock.now();
    this.pending.push(...reasons);
    this.pendingFull ||= !!options.full;
    this.wanted = true;
    this.firstAt ??= now;
    const delay = options.delayMs ?? this.options.debounceMs;
    // a burst waits for quiet, but none of it longer than the maximum wait; an asked-for 0 means now
    let wish = now + delay;
    // an urgent request runs after its own quiet time, whatever waits before it; others may wait up to the maximum
    let limit = delay === 0 || options.urgent ? now + delay : now + Math.max(delay, this.options.maxDelayMs);
    if (!options.urgent && this.backoff > 0) {
      wish = Math.max(wish, this.lastFailureAt + this.backoff);
      limit = Math.max(limit, this.lastFailureAt + this.backoff);
    }
    this.wishAt = Math.max(this.wishAt ?? wish, wish);
    this.limitAt = Math.min(this.limitAt ?? limit, limit);
    this.armDue();
  }

  /**
   * A run that starts after this call and includes these reasons: now when none
   * is under way, else the next one, shared by everyone who asks meanwhile.
   */
  runNow(reasons: Reason[], full = false): Promise<Result> {
    if (this.stopping) return Promise.reject(new RunnerStopped());
    this.pending.push(...reasons);
    this.pendingFull ||= full;
    this.firstAt ??= this.options.clock.now();
    if (!this.inFlight) return this.startRun();
    this.shared ??= this.inFlight.then(
      () => this.afterShared(),
      () => this.afterShared(),
    );
    return this.shared;
  }

  /** Stops: no run starts from now on; resolves when the one under way (if any) has ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.disarm();
    if (this.intervalTimer !== null) this.options.clock.clearTimeout(this.intervalTimer);
    this.intervalTimer = null;
    while (this.inFlight) await this.inFlight.catch(() => undefined);
  }

  private afterShared(): Promise<Result> {
    this.shared = null;
    if (this.stopping) return Promise.reject(new RunnerStopped());
    return this.inFlight ?? this.startRun();
  }

  /** Sets the timer to when the pending requests are due. */
  private armDue(): void {
    if (this.wishAt === null || this.limitAt === null) return;
    const now = this.options.clock.now();
    const at = Math.max(now, Math.min(this.wishAt, this.limitAt));
    if (this.dueAt === at) return;
    this.disarm();
    this.dueAt = at;
    this.timer = this.options.clock.setTimeout(() => this.fire(), at - now);
  }

  private disarm(): void {
    if (this.timer !== null) this.options.clock.clearTimeout(this.timer);
    this.timer = null;
    this.dueAt = null;
  }

  private fire(): void {
    this.timer = null;
    this.dueAt = null;
    if (this.stopping) return;
    // a run under way takes what came meanwhile into the next: asked for when it ends
    if (this.inFlight) return;
    void this.startRun().catch(() => undefined);
  }

  private startRun(): Promise<Result> {
    this.disarm();
    const reasons = this.pending.splice(0);
    const full = this.pendingFull;
    this.pendingFull = false;
    this.wanted = false;
    this.wishAt = null;
    this.limitAt = null;
    const since = this.firstAt ?? this.options.clock.now();
    this.firstAt = null;
    const run = this.options.run(reasons, full, since).then(
      ({ kind, result }) => {
        this.settle(kind);
        return result;
      },
      (e: unknown) => {
        this.settle("fatal");
        throw e;
      },
    );
    this.inFlight = run;
    const clear = () => {
      if (this.inFlight === run) this.inFlight = null;
      // requests that came during the run wait their quiet time from now (and the backoff, when it failed)
      if (!this.stopping && this.wanted && !this.shared) this.armDue();
    };
    run.then(clear, clear);
    return run;
  }

  /** The next run after one that ended so: backoff, a retry at once, or nothing until asked. */
  private settle(kind: RunKind): void {
    this.decide(kind);
    this.options.settled?.(kind, this.backoff);
  }

  private decide(kind: RunKind): void {
    const now = this.options.clock.now();
    if (kind === "ok" || kind === "conflict") {
      // a conflict is not a failure to back off from: the event that removes the foreign object brings the repair
      this.backoff = 0;
      this.retried = false;
      return;
    }
    this.lastFailureAt = now;
    if (kind === "retryable" && !this.retried) {
      // a race with another writer: once more at once; the same failure again is no race, and backs off
      this.retried = true;
      this.backoff = 0;
      if (!this.stopping) this.request(this.own(this.options.retryReason), { delayMs: 0, full: true });
      return;
    }
    this.backoff = Math.min(this.max, this.backoff ? this.backoff * 2 : this.min);
    if (!this.stopping) this.request(this.own(this.options.retryReason), { delayMs: this.backoff, full: true });
  }

  private own(reason: Reason | undefined): Reason[] {
    return reason === undefined ? [] : [reason];
  }
}
