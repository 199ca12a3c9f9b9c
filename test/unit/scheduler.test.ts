/**
 * The reconcile runner with a fake clock (issue 18, item 2): coalescing,
 * debounce, the maximum wait, backoff that doubles and resets, a retryable
 * failure retried once at once, conflicts that wait for an event, urgent
 * requests through a backoff, runs shared by callers, and a stop that waits
 * for the run in flight and lets nothing start after it.
 */
import { describe, expect, it } from "vitest";
import { ReconcileRunner, RunnerStopped, type RunKind } from "../../src/daemon/scheduler.js";
import { FakeClock, settle } from "../helpers/fakeClock.js";

interface Run {
  at: number;
  reasons: string[];
  full: boolean;
  finish: (kind?: RunKind) => void;
}

/** A runner whose runs the test finishes by hand (or at once, with `auto`). */
function setup(opts: { auto?: RunKind[]; debounceMs?: number; maxDelayMs?: number; intervalMs?: number } = {}) {
  const clock = new FakeClock();
  const runs: Run[] = [];
  const auto = opts.auto;
  const runner = new ReconcileRunner<string, number>({
    clock,
    debounceMs: opts.debounceMs ?? 20,
    maxDelayMs: opts.maxDelayMs ?? 250,
    intervalMs: opts.intervalMs ?? 0,
    run: (reasons, full) =>
      new Promise((resolve) => {
        const n = runs.length;
        const finish = (kind: RunKind = "ok") => resolve({ kind, result: n });
        runs.push({ at: clock.now(), reasons, full, finish });
        if (auto) finish(auto[Math.min(n, auto.length - 1)]);
      }),
  });
  return { clock, runs, runner };
}

describe("reconcile runner", () => {
  it("a storm of 100 events within the debounce gives one run with every reason", async () => {
    const { clock, runs, runner } = setup({ auto: ["ok"] });
    for (let i = 0; i < 100; i++) runner.request([`e${i}`]);
    await clock.advance(19);
    expect(runs).toHaveLength(0);
    await clock.advance(1);
    expect(runs).toHaveLength(1);
    expect(runs[0].reasons).toHaveLength(100);
    await clock.advance(10_000);
    expect(runs).toHaveLength(1);
  });

  it("a steady stream waits at most the maximum wait", async () => {
    const { clock, runs, runner } = setup({ auto: ["ok"] });
    for (let t = 0; t < 1000; t += 10) {
      runner.request(["e"]);
      await clock.advance(10);
    }
    // debounce 20 never passes quietly; the 250 ms bound runs it four times in a second
    expect(runs.map((r) => r.at)).toEqual([250, 500, 750, 1000]);
  });

  it("failures back off, doubling to the maximum, and a success resets the backoff", async () => {
    const { clock, runs, runner } = setup({ auto: ["fatal", "fatal", "fatal", "fatal", "ok", "fatal"] });
    runner.request(["e"], { delayMs: 0 });
    await clock.advance(0);
    await clock.advance(100);
    await clock.advance(200);
    await clock.advance(400);
    expect(runs.map((r) => r.at)).toEqual([0, 100, 300, 700]);
    expect(runner.backoffMs()).toBe(800);
    // an event during the backoff waits it out
    runner.request(["e"]);
    await clock.advance(799);
    expect(runs).toHaveLength(4);
    await clock.advance(1);
    expect(runs).toHaveLength(5);
    expect(runner.backoffMs()).toBe(0);
    runner.request(["e"], { delayMs: 0 });
    await clock.advance(0);
    expect(runner.backoffMs()).toBe(100);
  });

  it("the backoff stops doubling at its maximum", async () => {
    const { clock, runner } = setup({ auto: ["fatal"] });
    runner.request(["e"], { delayMs: 0 });
    await clock.advance(200_000);
    expect(runner.backoffMs()).toBe(30_000);
  });

  it("a retryable failure is retried once at once; the same failure again backs off", async () => {
    const { clock, runs, runner } = setup({ auto: ["retryable", "retryable", "ok"] });
    runner.request(["e"], { delayMs: 0 });
    await clock.advance(0);
    expect(runs.map((r) => r.at)).toEqual([0, 0]);
    expect(runner.backoffMs()).toBe(100);
    await clock.advance(100);
    expect(runs.map((r) => r.at)).toEqual([0, 0, 100]);
    expect(runner.backoffMs()).toBe(0);
  });

  it("a conflict is not retried: the next event brings the run, with no backoff", async () => {
    const { clock, runs, runner } = setup({ auto: ["conflict", "ok"] });
    runner.request(["e"], { delayMs: 0 });
    await clock.advance(60_000);
    expect(runs).toHaveLength(1);
    expect(runner.backoffMs()).toBe(0);
    runner.request(["foreign rule deleted"]);
    await clock.advance(20);
    expect(runs).toHaveLength(2);
  });

  it("an urgent request runs through a backoff, and through what waits for it", async () => {
    const { clock, runs, runner } = setup({ auto: ["fatal", "fatal", "ok"] });
    runner.request(["e"], { delayMs: 0 });
    await clock.advance(0);
    await clock.advance(100);
    expect(runner.backoffMs()).toBe(200);
    runner.request(["event"]); // waits out the backoff: due at 300
    await clock.advance(10);
    runner.request(["link up"], { urgent: true }); // its own quiet time (20 ms), not the backoff
    await clock.advance(19);
    expect(runs).toHaveLength(2);
    await clock.advance(1);
    expect(runs.map((r) => [r.at, r.reasons])).toEqual([
      [0, ["e"]],
      [100, []],
      [130, ["event", "link up"]],
    ]);
  });

  it("callers during a run share the next run, and events during it are not lost", async () => {
    const { clock, runs, runner } = setup();
    const first = runner.runNow(["a"]);
    expect(runs).toHaveLength(1);
    const b = runner.runNow(["b"]);
    const c = runner.runNow(["c"]);
    runner.request(["event"]);
    await clock.advance(1000);
    expect(runs).toHaveLength(1);
    runs[0].finish();
    expect(await first).toBe(0);
    await settle();
    expect(runs).toHaveLength(2);
    expect(runs[1].reasons).toEqual(["b", "c", "event"]);
    runs[1].finish();
    expect([await b, await c]).toEqual([1, 1]);
    await clock.advance(1000);
    expect(runs).toHaveLength(2);
  });

  it("an event during a run gets its own run after it: its quiet time, or at once when it waited past the maximum", async () => {
    const { clock, runs, runner } = setup();
    void runner.runNow(["a"]);
    runner.request(["event"]);
    await clock.advance(5);
    runs[0].finish();
    await clock.advance(14);
    expect(runs).toHaveLength(1);
    await clock.advance(1);
    expect(runs.map((r) => [r.at, r.reasons])).toEqual([
      [0, ["a"]],
      [20, ["event"]],
    ]);
    runner.request(["slow"]);
    await clock.advance(500);
    runs[1].finish();
    await clock.advance(0);
    expect(runs.map((r) => [r.at, r.reasons])).toEqual([
      [0, ["a"]],
      [20, ["event"]],
      [520, ["slow"]],
    ]);
  });

  it("stop waits for the run in flight; nothing starts after it, whatever was pending", async () => {
    const { clock, runs, runner } = setup({ intervalMs: 1000 });
    runner.start();
    const first = runner.runNow(["a"]);
    const next = runner.runNow(["b"]);
    runner.request(["event"]);
    let stopped = false;
    const stopping = runner.stop().then(() => (stopped = true));
    await clock.advance(5000);
    expect(stopped).toBe(false);
    runs[0].finish("fatal");
    await stopping;
    expect(await first).toBe(0);
    await expect(next).rejects.toBeInstanceOf(RunnerStopped);
    await expect(runner.runNow(["late"])).rejects.toBeInstanceOf(RunnerStopped);
    runner.request(["late"], { urgent: true, delayMs: 0 });
    await clock.advance(100_000);
    expect(runs).toHaveLength(1);
    expect(clock.armed()).toBe(0);
  });

  it("the periodic run is full and goes on at its interval", async () => {
    const { clock, runs, runner } = setup({ auto: ["ok"], intervalMs: 30_000 });
    runner.start();
    await clock.advance(90_000);
    expect(runs.map((r) => [r.at, r.full])).toEqual([
      [30_000, true],
      [60_000, true],
      [90_000, true],
    ]);
    await runner.stop();
    expect(clock.armed()).toBe(0);
  });
});
