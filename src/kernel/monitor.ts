/**
 * Long-lived `ip monitor` and `nft monitor` children that report every change
 * of links, addresses, routes, rules, netconf (rp_filter, forwarding,
 * proxy_neigh) and nftables, one line at a time. The daemon filters the lines
 * and reconciles; a child that dies is restarted, and `stop()` ends both.
 * Both die with the daemon (parent-death signal, children.ts): a monitor only
 * writes on events, so without it one would live on for good after a kill -9.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { childArgv, diesWithUs } from "./children.js";

/** Where a line came from. */
export type MonitorSource = "ip" | "nft";

/** The running monitors. */
export interface KernelMonitor {
  stop(): Promise<void>;
  /** resolves once both children run (their subscriptions are a few ms later) */
  readonly started: Promise<void>;
}

/** Starts both monitors for a namespace (or the host); `onLine` gets each line. */
export function startKernelMonitor(
  netns: string | undefined,
  onLine: (source: MonitorSource, line: string) => void,
  onRestart?: (source: MonitorSource, why: string) => void,
  onLost?: (source: MonitorSource, why: string) => void,
): KernelMonitor {
  const argv: Record<MonitorSource, string[]> = {
    // a large receive buffer: a storm of another tool's routes must not overflow the socket while we are busy
    ip: diesWithUs(["ip", "-rcvbuf", String(64 * 1024 * 1024), ...(netns ? ["-n", netns] : []), "monitor", "link", "address", "route", "rule", "netconf"]),
    nft: childArgv(netns, ["nft", "monitor"]),
  };
  let stopping = false;
  const children = new Map<MonitorSource, ChildProcess>();
  const launch = (source: MonitorSource): Promise<void> =>
    new Promise((resolve) => {
      const [cmd, ...args] = argv[source];
      const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
      children.set(source, child);
      let rest = "";
      child.stdout!.on("data", (d: Buffer) => {
        const text = rest + d.toString();
        const lines = text.split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) {
          // nft says so on stdout when the kernel dropped events: what we missed is unknown, so the caller reconciles
          if (/lost some netlink events/i.test(line)) onLost?.(source, line.trim());
          else if (line.trim()) onLine(source, line);
        }
      });
      child.stderr!.on("data", (d: Buffer) => {
        const text = d.toString();
        // ip says "netlink receive error No buffer space available" when its socket overflowed
        if (/No buffer space|lost some netlink events|ENOBUFS/i.test(text)) onLost?.(source, text.trim());
      });
      child.on("spawn", () => resolve());
      child.on("error", (e) => {
        onRestart?.(source, e.message);
        resolve();
      });
      child.on("exit", (code, signal) => {
        if (stopping) return;
        onRestart?.(source, `exited ${code ?? signal}`);
        // a monitor that died is restarted after a pause; events meanwhile are caught by the periodic reconcile
        setTimeout(() => void (stopping ? undefined : launch(source)), 1000).unref();
      });
    });
  const started = Promise.all([launch("ip"), launch("nft")]).then(() => undefined);
  return {
    started,
    async stop() {
      stopping = true;
      await Promise.all(
        [...children.values()].map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              c.once("exit", () => resolve());
              c.kill("SIGTERM");
            }),
        ),
      );
    },
  };
}
