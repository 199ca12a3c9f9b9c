/**
 * The start of `symroute run`, where anything it cannot work with stops it
 * with exit 1 and a message naming the file or address: an unusable state
 * file, an unusable registrations file, an API or metrics address it cannot
 * bind. Before, a taken metrics port was logged and the daemon ran on
 * without metrics, and a scrape meant for it got another daemon's figures.
 */
import type { Server } from "node:http";
import { CliError } from "../common.js";
import type { Daemon } from "../../daemon/daemon.js";
import { startApi } from "../../daemon/api.js";
import { startTcpApi, type TcpApi } from "../../daemon/tcpApi.js";
import type { Config } from "../../config/schema.js";
import { daemonMetrics, startMetricsServer } from "../../daemon/metrics.js";
import { startHistory } from "../../daemon/history.js";
import { statusRoutes } from "../../daemon/statusPage.js";
import { RegistrationsFileError } from "../../daemon/registrationsFile.js";
import { readState, StateFileError } from "../../engine/index.js";

/** Refuses to start on a state file no reconcile could use (every one would fail, and READY never come). */
export function checkStateFile(netns?: string): void {
  try {
    readState(netns);
  } catch (e) {
    if (e instanceof StateFileError) throw new CliError(`run: ${e.message}`);
    throw e;
  }
}

/** Makes the daemon; a registrations file it will not run with becomes exit 1 with the file's name and what to do. */
export function startable(make: () => Daemon): Daemon {
  try {
    return make();
  } catch (e) {
    if (e instanceof RegistrationsFileError) throw new CliError(`run: ${e.message}`);
    throw e;
  }
}

/** What the daemon listens on, to be closed at the end. */
export interface Listeners {
  metrics: Server | null;
  /** the API over TCP, when configured: a reload re-reads its tokens and certificate */
  tcpApi: TcpApi | null;
  close(): Promise<void>;
}

/** Why an address could not be bound, in words, from the error's code. */
function bindProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "EADDRINUSE") return "the address is in use (another symroute daemon, or another program, listens there)";
  if (code === "EADDRNOTAVAIL") return "no interface of this host has that address";
  if (code === "EACCES") return "permission denied";
  return (e as Error).message;
}

/**
 * Starts the API on its socket, the TCP API when configured, then metrics and the status page. The first that
 * fails closes the ones already started and ends the command: nothing is left listening, nothing half-served.
 */
export async function startListeners(
  daemon: Daemon,
  want: { socket: string; tcp?: NonNullable<Config["daemon"]>["api"]; metrics: string; uplinkView: () => unknown[] },
): Promise<Listeners> {
  const closers: (() => Promise<void>)[] = [];
  const history = want.metrics === "off" ? null : startHistory(() => daemon.uplinkHealth());
  const close = async () => {
    history?.stop();
    for (const c of closers.reverse()) await c();
  };
  const closeServer = (s: Server) => async () => {
    s.closeAllConnections?.();
    await new Promise<void>((r) => s.close(() => r()));
  };
  const step = async <T>(start: () => Promise<T>, closer: (t: T) => () => Promise<void>, what: (e: unknown) => string): Promise<T> => {
    try {
      const started = await start();
      closers.push(closer(started));
      return started;
    } catch (e) {
      await close();
      throw new CliError(`run: ${what(e)}`);
    }
  };
  await step(() => startApi(daemon, want.socket, want.uplinkView), closeServer, (e) => (e as Error).message);
  const tcp = want.tcp;
  const tcpApi = tcp
    ? await step(
        () => startTcpApi(daemon, tcp, want.uplinkView),
        (api) => () => api.close(),
        (e) => ((e as NodeJS.ErrnoException).code ? `cannot serve the API on ${tcp.listen} (daemon.api.listen): ${bindProblem(e)}` : (e as Error).message),
      )
    : null;
  const metrics =
    want.metrics === "off"
      ? null
      : await step(
          () => startMetricsServer(daemonMetrics(daemon), want.metrics, statusRoutes(daemon, history?.history ?? null)),
          closeServer,
          (e) => `cannot serve metrics on ${want.metrics}: ${bindProblem(e)}; give this daemon an address of its own with daemon.metrics in its file or --metrics ADDRESS:PORT, or "off"`,
        );
  return { metrics, tcpApi, close };
}
