/**
 * A short memory of uplink health for the status page: one sample per second
 * of each checked uplink's state, latency and loss, in a ring buffer holding
 * the last ten minutes per uplink. The class is pure (samples are given to
 * it); `startHistory` feeds it from a timer that does not keep the process up.
 */
import type { UplinkHealthView } from "./uplinkHealth.js";

/** One sample of one uplink. */
export interface HistoryPoint {
  /** Unix time, ms */
  t: number;
  state: "up" | "down";
  ewmaMs: number | null;
  lastMs: number | null;
  loss: number;
}

/** What a sample needs of an uplink's health. */
export type HealthSample = Pick<UplinkHealthView, "name" | "state" | "ewmaMs" | "lastMs" | "loss">;

/** A fixed-size ring of points. */
class Ring {
  private readonly items: (HistoryPoint | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<HistoryPoint | undefined>(capacity);
  }

  push(p: HistoryPoint): void {
    this.items[this.next] = p;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  /** Oldest first. */
  list(): HistoryPoint[] {
    const out: HistoryPoint[] = [];
    const start = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) out.push(this.items[(start + i) % this.capacity]!);
    return out;
  }
}

/** The last `capacity` samples of every uplink (600 at one a second: ten minutes). */
export class UplinkHistory {
  private readonly rings = new Map<string, Ring>();

  constructor(readonly capacity = 600) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`history capacity must be a positive integer, not ${capacity}`);
  }

  /** Adds one sample per uplink; an uplink no longer checked loses its history. */
  record(samples: HealthSample[], at: number = Date.now()): void {
    const seen = new Set<string>();
    for (const s of samples) {
      seen.add(s.name);
      let ring = this.rings.get(s.name);
      if (!ring) this.rings.set(s.name, (ring = new Ring(this.capacity)));
      ring.push({ t: at, state: s.state === "down" ? "down" : "up", ewmaMs: s.ewmaMs, lastMs: s.lastMs, loss: s.loss });
    }
    for (const name of [...this.rings.keys()]) if (!seen.has(name)) this.rings.delete(name);
  }

  /** An uplink's samples, oldest first (empty for an unknown uplink). */
  points(name: string): HistoryPoint[] {
    return this.rings.get(name)?.list() ?? [];
  }

  names(): string[] {
    return [...this.rings.keys()];
  }
}

/** Samples `source` every `everyMs` into a new history until `stop()`; the timer does not hold the process. */
export function startHistory(source: () => HealthSample[], everyMs = 1000, capacity = 600): { history: UplinkHistory; stop: () => void } {
  const history = new UplinkHistory(capacity);
  const sample = () => {
    try {
      history.record(source());
    } catch {
      // a daemon between configs: the next second samples again
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  timer.unref();
  return { history, stop: () => clearInterval(timer) };
}
