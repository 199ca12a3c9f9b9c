/**
 * Waits on observable state instead of a fixed sleep (issue 18): polls `check`
 * every 5 ms until it holds and returns how long that took (tests report
 * latencies with it), or fails naming `what` (and `detail()`, what was seen
 * instead) once `limitMs` has passed.
 */
export async function until(what: string, check: () => boolean | Promise<boolean>, limitMs = 3000, detail: () => string = () => ""): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > limitMs) throw new Error(`${what}: not within ${limitMs} ms ${detail()}`.trim());
    await new Promise((r) => setTimeout(r, 5));
  }
}
