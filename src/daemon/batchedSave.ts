/**
 * Writes of the registrations file: a change that makes or ends a
 * registration is written before it counts, while lease renewals (a thousand
 * every few seconds) share one write 200 ms after the first. The timer is
 * this module's, on the daemon's clock, so the registry itself stays pure.
 */
import type { Clock } from "./scheduler.js";

/** How the registry has its data written. */
export interface Saver<T> {
  /** writes now (throws when it cannot: the change is then not made) */
  now(data: T): void;
  /** writes soon, with whatever `latest` returns then */
  soon(latest: () => T): void;
  /** writes what a pending batch holds (the daemon's stop) */
  flush(): void;
}

/** A saver that batches `soon` writes on a clock. */
export class BatchedSave<T> implements Saver<T> {
  private pending: unknown = null;
  private latest: (() => T) | null = null;

  constructor(
    private readonly write: (data: T) => void,
    private readonly clock: Clock,
    private readonly delayMs = 200,
  ) {}

  now(data: T): void {
    this.cancel();
    this.write(data);
  }

  soon(latest: () => T): void {
    this.latest = latest;
    this.pending ??= this.clock.setTimeout(() => {
      this.pending = null;
      try {
        this.write(latest());
      } catch {
        // the next change writes again; a renewal lost to a full disk costs at most one lease after a restart
      }
    }, this.delayMs);
  }

  flush(): void {
    if (this.pending === null || !this.latest) return;
    this.cancel();
    this.write(this.latest());
  }

  private cancel(): void {
    if (this.pending !== null) this.clock.clearTimeout(this.pending);
    this.pending = null;
  }
}

/** A saver that writes every change at once (tests, one-shot tools). */
export function immediateSave<T>(write: (data: T) => void): Saver<T> {
  return { now: write, soon: (latest) => write(latest()), flush: () => {} };
}
