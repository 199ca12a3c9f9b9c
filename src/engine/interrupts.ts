/**
 * SIGTERM and SIGINT as an AbortSignal: a command that changes the kernel
 * finishes its step, rolls back and exits 3 instead of dying with half the
 * objects in. A second signal changes nothing; SIGKILL stays the journal's job.
 */

/** Listens for SIGTERM/SIGINT until disposed; `signal.reason` names the signal. */
export function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const on = (name: NodeJS.Signals) => () => {
    if (!controller.signal.aborted) controller.abort(name);
  };
  const term = on("SIGTERM");
  const int = on("SIGINT");
  process.on("SIGTERM", term);
  process.on("SIGINT", int);
  return {
    signal: controller.signal,
    dispose() {
      process.off("SIGTERM", term);
      process.off("SIGINT", int);
    },
  };
}
