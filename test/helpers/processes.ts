/**
 * Processes as /proc shows them, for the tests and benches that count what a
 * daemon leaves behind (children.test.ts, bench/shutdown.ts): one reader of
 * /proc/PID/stat and one walk of a process tree.
 */
import { readdirSync, readFileSync } from "node:fs";

/** One process. */
export interface Proc {
  pid: number;
  ppid: number;
  /** "R", "S", ..., "Z" for a zombie */
  state: string;
  /** clock ticks after boot: tells a pid from a later process given the same pid */
  start: string;
  cmdline: string;
}

/** One process, or null when it is gone. */
export function readProc(pid: number): Proc | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after its last ")"
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
    } catch {
      // a zombie's cmdline may be unreadable
    }
    return { pid, ppid: Number(f[1]), state: f[0], start: f[19], cmdline };
  } catch {
    return null;
  }
}

/** Every process; zombies only when asked (dead: nothing but a reaper's bookkeeping is left of them). */
export function processes(opts: { zombies?: boolean } = {}): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p && (opts.zombies || (p.state !== "Z" && p.state !== "X"))) out.push(p);
  }
  return out;
}

/** Every descendant of `pid` among `all`. */
export function descendants(pid: number, all: Proc[] = processes()): Proc[] {
  const found: Proc[] = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop()!;
    for (const c of all.filter((x) => x.ppid === p)) {
      found.push(c);
      todo.push(c.pid);
    }
  }
  return found;
}
