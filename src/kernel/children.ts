/**
 * How the daemon's long-lived children are tied to it, so none outlives it,
 * SIGKILL included (no handler of ours runs then).
 *
 * `setpriv --pdeathsig SIG` (util-linux) asks the kernel to send SIG to the
 * child when its parent dies. The kernel means the parent *thread* that
 * forked it: node forks from its main thread (libuv's uv_spawn runs where
 * spawn() is called), which lives as long as the process, so the signal comes
 * exactly when the daemon dies. It is kept across exec (`ip netns exec` execs
 * in place, so the child's parent stays the daemon), and cleared only by
 * exec'ing a set-uid program or one that gains capabilities; the daemon runs
 * as root, so ping's file capabilities gain nothing and keep it.
 */
/** The signal a child gets when the daemon dies: KILL for plain programs, TERM for one that cleans up after itself. */
export type DeathSignal = "KILL" | "TERM";

/** argv that the kernel ends when this process dies. */
export function diesWithUs(argv: string[], signal: DeathSignal = "KILL"): string[] {
  return ["setpriv", "--pdeathsig", signal, ...argv];
}

/**
 * argv of a long-lived child inside a namespace (or the host), tied to this
 * process. `ip netns exec` (not `-n`: the child is no `ip`) switches the
 * namespace and execs in place.
 */
export function childArgv(netns: string | undefined, argv: string[], signal: DeathSignal = "KILL"): string[] {
  const tied = diesWithUs(argv, signal);
  return netns ? ["ip", "netns", "exec", netns, ...tied] : tied;
}

