/** The registrations file's writes (daemon/batchedSave.ts) on a fake clock: renewals share one write, a change writes at once. */
import { describe, expect, it } from "vitest";
import { BatchedSave } from "../../src/daemon/batchedSave.js";
import { FakeClock } from "../helpers/fakeClock.js";

describe("batched saves", () => {
  it("a burst of renewals is one write 200 ms after the first, with the latest data", async () => {
    const clock = new FakeClock();
    const writes: number[] = [];
    const save = new BatchedSave<number>((n) => writes.push(n), clock);
    let data = 1;
    for (let i = 0; i < 1000; i++) save.soon(() => data++);
    await clock.advance(199);
    expect(writes).toEqual([]);
    await clock.advance(1);
    expect(writes).toEqual([1]);
    expect(clock.armed()).toBe(0);
  });

  it("a change writes at once and takes the pending batch with it; flush writes what is pending", async () => {
    const clock = new FakeClock();
    const writes: string[] = [];
    const save = new BatchedSave<string>((s) => writes.push(s), clock);
    save.soon(() => "renewed");
    save.now("registered");
    await clock.advance(1000);
    expect(writes).toEqual(["registered"]);
    save.soon(() => "renewed again");
    save.flush();
    save.flush();
    expect(writes).toEqual(["registered", "renewed again"]);
    expect(clock.armed()).toBe(0);
  });
});
