/**
 * ICMP checks: one long-lived `ping -n -O -i INTERVAL -W TIMEOUT -I SOURCE
 * TARGET` per target (`-6` for IPv6), tied to the daemon (it dies with it),
 * read line by line: a reply with its icmp_seq and time, or `-O`'s "no answer
 * yet for icmp_seq=N" when the next probe goes out.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { isIP } from "node:net";
import type { CheckSettings } from "../model/check.js";
import { childArgv } from "./children.js";

/** What a line of ping (or a record of the check prober) says about one sequence number. */
export type ProbeLine = { seq: number; kind: "reply"; rttMs: number } | { seq: number; kind: "pending" } | { seq: number; kind: "failed"; error: string };

/** The argv of one target's ping (without the namespace and parent-death wrappers). */
export function probeArgv(check: CheckSettings, target: string, source: string, programs: { ping?: string } = {}): string[] {
  const seconds = (ms: number) => String(ms / 1000);
  return [programs.ping ?? "ping", ...(isIP(target) === 6 ? ["-6"] : ["-4"]), "-n", "-O", "-i", seconds(check.intervalMs), "-W", seconds(Math.max(check.timeoutMs, check.intervalMs)), "-I", source, target];
}

/** Parses one line of ping; null for headers and anything else. */
export function parseProbeLine(line: string): ProbeLine | null {
  const seqMatch = /icmp_seq=([0-9]+)/.exec(line);
  if (!seqMatch) return null;
  const seq = Number(seqMatch[1]);
  if (line.startsWith("no answer yet for")) return { seq, kind: "pending" };
  const time = /time[=<]([0-9.]+) ms/.exec(line);
  if (time) return { seq, kind: "reply", rttMs: Number(time[1]) };
  // "From 192.0.2.1 icmp_seq=3 Destination Host Unreachable" and the like
  const from = /icmp_seq=[0-9]+ (.*)$/.exec(line);
  return { seq, kind: "failed", error: from?.[1]?.trim() || line.trim() };
}

/** Where a probe stream's lines go (ping's, or the check prober's records as lines). */
export interface LineHandlers {
  line(parsed: ProbeLine): void;
  /** the stream ended: no more lines; `why` is its last words */
  gone(why: string): void;
}

/** A running stream of probes to one target. */
export interface LineStream {
  /** ends it; resolves once its process (if it has one of its own) is gone */
  stop(): Promise<void>;
}

/** Starts one target's ping in the namespace (or the host). */
export function startPing(netns: string | undefined, argv: string[], handlers: LineHandlers): LineStream {
  const full = childArgv(netns, argv);
  const child = spawn(full[0], full.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  let ended = false;
  let stopping = false;
  const end = () => {
    if (ended) return;
    ended = true;
    if (!stopping) handlers.gone(stderr.trim().split("\n").pop() || "no output");
  };
  child.on("error", (e) => {
    stderr += e.message;
    end();
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => {
    if (stderr.length < 2000) stderr += d;
  });
  child.on("exit", end);
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const parsed = parseProbeLine(line);
    if (parsed && !stopping) handlers.line(parsed);
  });
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        stopping = true;
        if (ended || child.exitCode !== null || child.signalCode !== null) return resolve();
        const hard = setTimeout(() => child.kill("SIGKILL"), 1000);
        child.once("exit", () => {
          clearTimeout(hard);
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
}
