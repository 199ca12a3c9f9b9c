/**
 * The uplink health state machine (src/daemon/health.ts): detection time of a
 * dead uplink with the defaults, no flapping under heavy random loss, and the
 * hysteresis and hold rules checked against a plain model on random rounds.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { checkSettings, UplinkHealth, WINDOW, type CheckSettings, type Round, type Transition } from "../../src/daemon/health.js";

const DEFAULTS = checkSettings({ targets: ["198.51.100.1", "203.0.113.1"] });

/** A small seeded PRNG (mulberry32) so one fast-check integer drives a whole simulation. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Round k is sent at k * interval and closed when its timeout has passed. */
function round(s: CheckSettings, k: number, ok: (target: string) => boolean): Round {
  return { at: k * s.intervalMs + s.timeoutMs, results: s.targets.map((target) => (ok(target) ? { target, ok: true, rttMs: 10 } : { target, ok: false, rttMs: null })) };
}

describe("defaults", () => {
  it("are interval 200ms, timeout half of it, down 4, up 5, hold 10s, icmp", () => {
    expect(DEFAULTS).toEqual({ targets: ["198.51.100.1", "203.0.113.1"], method: { kind: "icmp" }, intervalMs: 200, timeoutMs: 100, down: 4, up: 5, holdMs: 10_000 });
    expect(checkSettings({ targets: ["192.0.2.1"], method: "tcp:443", interval: "1s", timeout: "300ms", hold: "1m" })).toMatchObject({ method: { kind: "tcp", port: 443 }, intervalMs: 1000, timeoutMs: 300, holdMs: 60_000 });
  });

  it("detect total loss in under 1 s from the fault, whatever its phase", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 199 }), fc.integer({ min: 5, max: 100 }), (phase, healthyRounds) => {
        const h = new UplinkHealth(DEFAULTS, 0);
        const fault = healthyRounds * DEFAULTS.intervalMs + phase;
        let down: Transition | null = null;
        for (let k = 0; !down && k < healthyRounds + 20; k++) down = h.record(round(DEFAULTS, k, () => k * DEFAULTS.intervalMs < fault));
        expect(down?.to).toBe("down");
        const detection = down!.at - fault;
        expect(detection).toBeLessThanOrEqual(900);
        expect(detection).toBeGreaterThan(500);
      }),
      { numRuns: 300 },
    );
  });

  /** Seconds of 20% random loss per probe on every target; the transitions each seed saw. */
  function lossySeeds(targets: string[], seconds: number, seeds: number): number[] {
    const s = { ...DEFAULTS, targets };
    const flaps: number[] = [];
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const random = prng(seed);
        const h = new UplinkHealth(s, 0);
        for (let k = 0; k < (seconds * 1000) / s.intervalMs; k++) h.record(round(s, k, () => random() >= 0.2));
        const snap = h.snapshot();
        expect(snap.probeLoss).toBeGreaterThan(0.05);
        expect(snap.probeLoss).toBeLessThan(0.4);
        flaps.push(snap.transitions);
      }),
      { numRuns: seeds, seed: 20261123 },
    );
    return flaps;
  }

  it("with 20% independent loss per probe and 2 targets, a false down is rare: as often as the arithmetic says", () => {
    // a round misses with p = 0.2^2 = 0.04; 4 in a row somewhere among n rounds: about n * 0.96 * 0.04^4,
    // 0.04% per 30 s (150 rounds), 0.37% per 5 minutes (1500 rounds): about once per 22 hours of such loss
    const flapped = (seconds: number, seeds: number) => lossySeeds(["198.51.100.1", "203.0.113.1"], seconds, seeds).filter((t) => t > 0).length;
    expect(flapped(30, 300)).toBeLessThanOrEqual(2);
    expect(flapped(300, 300)).toBeLessThanOrEqual(5);
  });

  it("with 20% independent loss per probe and 3 targets, no transition in 5 simulated minutes", () => {
    expect(lossySeeds(["198.51.100.1", "203.0.113.1", "192.0.2.1"], 300, 100).every((t) => t === 0)).toBe(true);
  });
});

describe("hysteresis and hold", () => {
  const settings = fc.record({
    down: fc.integer({ min: 1, max: 6 }),
    up: fc.integer({ min: 1, max: 6 }),
    holdMs: fc.integer({ min: 0, max: 3000 }),
    intervalMs: fc.integer({ min: 50, max: 500 }),
  });

  it("moves exactly when the model says: down after `down` missed rounds, up after `up` answered rounds once `hold` has passed", () => {
    fc.assert(
      fc.property(settings, fc.array(fc.boolean(), { maxLength: 400 }), fc.constantFrom<"up" | "down">("up", "down"), (o, oks, initial) => {
        const s: CheckSettings = { ...DEFAULTS, ...o, timeoutMs: o.intervalMs };
        const h = new UplinkHealth(s, 0, initial);
        let state = initial;
        let downSince = 0;
        let misses = 0;
        let successes = 0;
        let transitions = 0;
        oks.forEach((ok, k) => {
          const r = round(s, k, () => ok);
          const t = h.record(r);
          misses = ok ? 0 : misses + 1;
          successes = ok ? successes + 1 : 0;
          let want: "up" | "down" | null = null;
          if (state === "up" && misses >= s.down) want = "down";
          else if (state === "down" && successes >= s.up && r.at - downSince >= s.holdMs) want = "up";
          expect(t?.to ?? null).toBe(want);
          if (want) {
            expect(t!.from).toBe(state);
            expect(t!.at).toBe(r.at);
            state = want;
            transitions += 1;
            if (want === "down") downSince = r.at;
          }
          expect(h.current).toBe(state);
        });
        expect(h.snapshot().transitions).toBe(transitions);
      }),
      { numRuns: 500 },
    );
  });

  it("one dead target never takes the uplink down", () => {
    const h = new UplinkHealth(DEFAULTS, 0);
    for (let k = 0; k < 1000; k++) expect(h.record(round(DEFAULTS, k, (t) => t === "203.0.113.1"))).toBeNull();
    const s = h.snapshot();
    expect(s.state).toBe("up");
    expect(s.loss).toBe(0);
    expect(s.probeLoss).toBe(0.5);
    expect(s.targets).toEqual([
      { address: "198.51.100.1", lastMs: null, ewmaMs: null, loss: 1, sent: 1000, answered: 0 },
      { address: "203.0.113.1", lastMs: 10, ewmaMs: 10, loss: 0, sent: 1000, answered: 1000 },
    ]);
  });

  it("a recovered uplink waits out the hold, then comes up on the next answered round", () => {
    const h = new UplinkHealth(DEFAULTS, 0);
    let k = 0;
    const step = (ok: boolean) => h.record(round(DEFAULTS, k++, () => ok));
    for (let i = 0; i < 3; i++) expect(step(false)).toBeNull();
    const down = step(false)!;
    expect(down).toMatchObject({ from: "up", to: "down", at: 3 * 200 + 100 });
    expect(down.reason).toBe("4 missed rounds in a row (no answer from 198.51.100.1, 203.0.113.1)");
    let up: Transition | null = null;
    while (!up) {
      up = step(true);
      if (!up && h.snapshot().successesInARow >= 5) expect(h.snapshot().holdLeftMs).toBeGreaterThan(0);
    }
    expect(up.at - down.at).toBe(10_000);
    expect(up.reason).toMatch(/^\d+ answered rounds in a row after 10\.0 s down$/);
    expect(h.snapshot()).toMatchObject({ state: "up", since: up.at, transitions: 2, holdLeftMs: null });
  });

  it("keeps loss over the last rounds and a latency EWMA", () => {
    const h = new UplinkHealth(DEFAULTS, 0);
    for (let k = 0; k < WINDOW; k++) h.record({ at: k * 200, results: [{ target: "198.51.100.1", ok: k % 5 !== 0, rttMs: k % 5 !== 0 ? 20 : null }, { target: "203.0.113.1", ok: false, rttMs: null }] });
    h.record({ at: WINDOW * 200, results: [{ target: "198.51.100.1", ok: true, rttMs: 100 }, { target: "203.0.113.1", ok: true, rttMs: 60 }] });
    const s = h.snapshot();
    expect(s.lastMs).toBe(60);
    expect(s.ewmaMs).toBeCloseTo(20 + 0.125 * 40, 3);
    expect(s.loss).toBeCloseTo(9 / WINDOW, 5);
    expect(s.targets[0]).toMatchObject({ lastMs: 100, ewmaMs: 30, sent: WINDOW + 1 });
  });
});
