/**
 * Waits on observable state instead of a fixed sleep (issue 18): polls the
 * predicate every 20 ms until it holds, and fails with `what` when it has not
 * within the time. A test then proves that the state came, and how soon.
 */
export async function until(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await predicate()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
