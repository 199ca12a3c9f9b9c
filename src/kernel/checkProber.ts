/**
 * The daemon's side of its one check prober process (checkProberScript.ts):
 * TCP, HTTP and command checks of every uplink and target are streams in one
 * node process inside the daemon's namespace, opened and closed by JSON lines
 * on its stdin, their results JSON lines on its stdout. The process starts
 * with the first stream, is tied to the daemon (parent-death SIGTERM, and its
 * stdin closing), and is started again by the next open after it died.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { CheckMethod } from "../model/check.js";
import { CHECK_PROBER_SCRIPT } from "./checkProberScript.js";
import { childArgv } from "./children.js";

/** The checks the prober process runs (ICMP stays with ping). */
export type ProberMethod = Exclude<CheckMethod, { kind: "icmp" }>;

/** What one stream probes: from `source` to `target`, every `intervalMs`, each probe given `timeoutMs`. */
export interface StreamSpec {
  target: string;
  source: string;
  method: ProberMethod;
  intervalMs: number;
  timeoutMs: number;
}

/** A command to the prober process: one JSON line on its stdin. */
export type ProberCommand = ({ op: "open"; id: number } & StreamSpec) | { op: "close"; id: number };

/** One probe's result from the prober process: one JSON line on its stdout. */
export type ProberRecord = { id: number; seq: number; ok: true; rttMs: number } | { id: number; seq: number; ok: false; error: string };

/** Reads one line of the prober's output as a record; null for anything else. */
export function parseProberRecord(line: string): ProberRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const r = v as Record<string, unknown>;
  if (!Number.isInteger(r.id) || !Number.isInteger(r.seq)) return null;
  const [id, seq] = [r.id as number, r.seq as number];
  if (r.ok === true && typeof r.rttMs === "number") return { id, seq, ok: true, rttMs: r.rttMs };
  if (r.ok === false && typeof r.error === "string") return { id, seq, ok: false, error: r.error };
  return null;
}

/** Where a stream's results go. */
export interface StreamHandlers {
  result(record: ProberRecord): void;
  /** the prober process ended (or could not start): no more results; `why` is its last words */
  gone(why: string): void;
}

/** An open stream. */
export interface ProbeStream {
  close(): void;
}

/** The daemon's check prober process, shared by all its checks. */
export class CheckProber {
  private child: ChildProcess | null = null;
  private readonly streams = new Map<number, StreamHandlers>();
  private nextId = 1;
  private stderr = "";
  private stopped = false;

  /** `node`: the program that runs the script (default this node) */
  constructor(
    private readonly netns?: string,
    private readonly node = process.execPath,
  ) {}

  /** The prober process's pid while it runs. */
  pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts probing; results go to `handlers` until the stream is closed or the process dies. */
  open(spec: StreamSpec, handlers: StreamHandlers): ProbeStream {
    if (this.stopped) {
      // a check started while the daemon stops (a sync racing stop): it ends at once, as if the process had died
      queueMicrotask(() => handlers.gone("the check prober is stopped"));
      return { close: () => undefined };
    }
    const id = this.nextId++;
    this.streams.set(id, handlers);
    const child = this.child ?? this.launch();
    this.send(child, { op: "open", id, ...spec });
    return {
      close: () => {
        if (!this.streams.delete(id) || this.child !== child) return;
        this.send(child, { op: "close", id });
      },
    };
  }

  private send(child: ChildProcess, command: ProberCommand): void {
    if (child.stdin?.writable) child.stdin.write(JSON.stringify(command) + "\n");
  }

  private launch(): ChildProcess {
    // a small young generation: its default (16 MB semi-spaces) alone would double the prober's RSS; the old space is a ceiling, not a reservation
    const argv = childArgv(this.netns, [this.node, "--max-semi-space-size=1", "--max-old-space-size=256", "-e", CHECK_PROBER_SCRIPT], "TERM");
    const child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    this.stderr = "";
    child.stdin!.on("error", () => undefined);  // it died: its exit says so
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => {
      this.stderr = (this.stderr + d).slice(-2000);
    });
    let rest = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => {
      const lines = (rest + d).split("\n");
      rest = lines.pop() ?? "";
      if (this.child !== child) return;
      for (const line of lines) {
        const record = parseProberRecord(line);
        if (record) this.streams.get(record.id)?.result(record);
      }
    });
    let ended = false;
    const end = (why: string) => {
      if (ended) return;
      ended = true;
      if (this.child !== child) return;
      this.child = null;
      const lost = [...this.streams.values()];
      this.streams.clear();
      if (this.stopped) return;
      for (const h of lost) h.gone(this.stderr.trim().split("\n").pop() || why);
    };
    child.on("error", (e) => end(e.message));
    child.on("exit", (code, signal) => end(`exited ${code ?? signal}`));
    return child;
  }

  /** Ends the process (its running commands' groups with it); no handler is called after it resolves. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.streams.clear();
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const hard = setTimeout(() => child.kill("SIGKILL"), 1000);
      child.once("exit", () => {
        clearTimeout(hard);
        resolve();
      });
      child.stdin!.end();
      child.kill("SIGTERM");
    });
  }
}
