/**
 * What a failure means for whoever runs the next reconcile (issue 18): every
 * error the engine and kernel raise carries one, and the daemon decides its
 * retries from it, never from the error's text (as nmstate's ErrorKind).
 * - `retryable`: a race with another writer (an object appeared or went
 *   between reading and writing, verify saw a change made meanwhile, the lock
 *   was held): the same reconcile once more at once is likely to pass;
 * - `conflict`: another tool's object stands where symroute's would go; only
 *   its owner can move it, and the kernel event of that is the next chance;
 * - `refused`: the input cannot be applied (invalid config, a feature this
 *   kernel lacks) until someone changes it;
 * - `fatal`: anything else; retried with a growing backoff.
 */
export type ErrorKind = "retryable" | "conflict" | "refused" | "fatal";

/** The kind an error carries; errors of other code (node's, a library's) are fatal. */
export function kindOf(e: unknown): ErrorKind {
  const kind = (e as { kind?: unknown } | null)?.kind;
  return kind === "retryable" || kind === "conflict" || kind === "refused" || kind === "fatal" ? kind : "fatal";
}
