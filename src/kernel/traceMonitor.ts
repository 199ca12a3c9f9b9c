/**
 * The kernel side of `symroute trace --live`: a `nft monitor trace` child
 * that hands over each line, the base chains' hooks, and the trace table's
 * transactions (JSON through runNftTransaction, so no text from the command
 * line is ever parsed as nft syntax).
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Runner } from "./runner.js";
import { runNftTransaction } from "./nft.js";

/** A running `nft monitor trace`. */
export interface TraceMonitor {
  /** resolves once the child runs and has had a moment to subscribe */
  readonly started: Promise<void>;
  /** resolves when the child has ended, with what it printed on stderr when it failed */
  readonly ended: Promise<{ code: number | null; stderr: string }>;
  stop(): Promise<void>;
}

/** Starts `nft monitor trace` in the namespace (or the host); `onLine` gets every line, `onLost` nft's overflow notice. */
export function startTraceMonitor(netns: string | undefined, onLine: (line: string) => void, onLost?: (why: string) => void): TraceMonitor {
  const argv = [...(netns ? ["ip", "netns", "exec", netns] : []), "nft", "monitor", "trace"];
  const child: ChildProcess = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } });
  let rest = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => {
    const lines = (rest + d.toString()).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) {
      if (/lost some netlink events/i.test(line)) onLost?.(line.trim());
      else if (line.trim()) onLine(line);
    }
  });
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
    if (/No buffer space|ENOBUFS/i.test(stderr)) onLost?.(stderr.trim());
  });
  const ended = new Promise<{ code: number | null; stderr: string }>((resolve) => {
    child.on("error", (e) => resolve({ code: null, stderr: `cannot run ${argv[0]}: ${e.message}` }));
    child.on("close", (code) => {
      if (rest.trim()) onLine(rest);
      rest = "";
      resolve({ code, stderr });
    });
  });
  const started = new Promise<void>((resolve) => {
    // the subscription follows the exec by a few ms (and `ip netns exec` by a few more): a short pause before tracing starts
    child.on("spawn", () => setTimeout(resolve, 150));
    void ended.then(() => resolve());
  });
  return {
    started,
    ended,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = ended.then(() => undefined);
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 1000);
      timer.unref();
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Every base chain's hook, keyed "family table chain" as `nft monitor trace` names chains. */
export async function readBaseChainHooks(runner: Runner): Promise<Map<string, string>> {
  const res = await runner.run(["nft", "-j", "list", "chains"]);
  const out = new Map<string, string>();
  for (const o of (JSON.parse(res.stdout) as { nftables: { chain?: { family: string; table: string; name: string; hook?: string } }[] }).nftables) {
    if (o.chain?.hook) out.set(`${o.chain.family} ${o.chain.table} ${o.chain.name}`, o.chain.hook);
  }
  return out;
}

/** True when the table exists. */
export async function nftTableExists(runner: Runner, family: string, name: string): Promise<boolean> {
  const res = await runner.run(["nft", "-j", "-t", "list", "tables"]);
  return (JSON.parse(res.stdout) as { nftables: { table?: { family: string; name: string } }[] }).nftables.some((o) => o.table?.family === family && o.table.name === name);
}

/** Sends the trace table's commands (built by src/trace/liveTrace.ts) as one transaction. */
export function sendTraceTable(runner: Runner, commands: Record<string, unknown>[]): Promise<void> {
  return runNftTransaction(runner, commands);
}
