/**
 * `symroute run FILE`: the daemon in the foreground (systemd's Type=notify),
 * and `symroute reload`, which asks it to re-read its file.
 */
import type { Command } from "commander";
import { pino } from "pino";
import { CliError, EXIT, loadConfigFile, printJson, runnerFor } from "../common.js";
import { durationMs } from "../../config/schema.js";
import { Daemon, type ReconcileRecord } from "../../daemon/daemon.js";
import { socketPath } from "../../daemon/api.js";
import type { TcpApi } from "../../daemon/tcpApi.js";
import { callDaemon } from "../../daemon/client.js";
import { checkStateFile, startable, startListeners } from "./runStart.js";
import { monotonicUsec, sdNotify, watchdogIntervalMs } from "../../engine/index.js";

/** Where the host's daemon serves metrics when its file does not say. */
export const DEFAULT_METRICS = "127.0.0.1:9479";

/**
 * The metrics address: `--metrics`, else the file's `daemon.metrics`, else the default, which is the host
 * daemon's only. A `--netns` daemon (symroute@NS.service) serves metrics only where its own file says, so two
 * instances never reach for the same port: one would fail to start, or a scrape would get the other's figures.
 */
export function metricsAddress(flag: string | undefined, configured: string | undefined, netns: string | undefined): string {
  return flag ?? configured ?? (netns === undefined ? DEFAULT_METRICS : "off");
}

export function registerRunCommands(program: Command): void {
  program
    .command("run")
    .description("apply the file, then keep the kernel true: repair drift, follow addresses, reload on SIGHUP")
    .argument("<file>")
    .option("--netns <name>", "network namespace to manage")
    .option("--destroy-on-exit", "remove symroute's objects when stopped (by default routing outlives the daemon)")
    .option("--metrics <address>", `serve Prometheus metrics here (overrides daemon.metrics; "off" to disable)`)
    .option("--log-level <level>", "debug, info, warn or error", "info")
    .action(async (file: string, opts: { netns?: string; destroyOnExit?: boolean; metrics?: string; logLevel: string }) => {
      runnerFor(opts.netns);
      const log = pino({ level: opts.logLevel, base: { netns: opts.netns ?? null } });
      const initial = loadConfigFile(file);
      const settings = initial.config.daemon ?? {};
      // files the daemon cannot work with stop it here, named, before it listens anywhere: a daemon that is
      // never READY (systemd) or runs on while every reconcile fails says less than an exit with the file's name
      checkStateFile(opts.netns);
      let tcpApi: TcpApi | null = null;
      const daemon = startable(
        () =>
          new Daemon({
            netns: opts.netns,
            initial,
            // a reload re-reads the API's token file and certificate too: one that became unusable refuses the
            // reload as a whole (the running config and tokens stay), like an invalid config, and says why
            load: () => {
              const next = loadConfigFile(file);
              if (tcpApi) tcpApi.prepareReload(next.config.daemon?.api)();
              else if (next.config.daemon?.api) log.warn({ msg: "daemon.api added: the API over TCP starts when the daemon restarts" });
              return next;
            },
            // validated by the schema: the same form durationMs reads
            reconcileIntervalMs: durationMs(settings.reconcileInterval ?? "30s")!,
            debounceMs: durationMs(settings.debounce ?? "20ms")!,
          }),
      );
      daemon.on("log", (level: "debug" | "info" | "warn" | "error", fields: Record<string, unknown>) => log[level](fields));
      daemon.on("event", (kind: string, line: string) => log.debug({ msg: "kernel event", kind, line }));

      const uplinkView = () => {
        const health = new Map(daemon.uplinkHealth().map((h) => [h.name, h]));
        return daemon.config().config.uplinks.map((u) => ({
          name: u.name,
          interface: u.interface,
          gateway: u.gateway ?? null,
          gateway6: u.gateway6 ?? null,
          addresses: u.addresses ?? null,
          weight: u.weight ?? 1,
          tier: u.tier ?? 1,
          health: health.get(u.name) ?? null,
        }));
      };
      const listen = metricsAddress(opts.metrics, settings.metrics, opts.netns);
      const listeners = await startListeners(daemon, {
        socket: socketPath(opts.netns),
        tcp: settings.api,
        metrics: listen,
        uplinkView,
      });
      tcpApi = listeners.tcpApi;
      if (settings.api) log.info({ msg: "API over TCP", listen: settings.api.listen, auth: "bearer token", tls: !!settings.api.tls });

      let ready = false;
      const onReconcile = (r: ReconcileRecord) => {
        if (!ready && !r.error) {
          ready = true;
          void sdNotify("READY=1", `STATUS=applied ${file}`);
          log.info({ msg: "ready", file, api: socketPath(opts.netns), metrics: listeners.metrics ? listen : "off" });
        }
      };
      daemon.on("reconcile", onReconcile);
      // set from the daemon's "fatal" event (a box, so the check after `await stopped` is not narrowed to null)
      const fatal: { error: Error | null } = { error: null };
      // signals are handled before the first apply: a SIGTERM during start-up (systemd stopping a unit that is
      // still starting) stops cleanly, --destroy-on-exit included, instead of killing the process
      const stopped = new Promise<void>((resolve) => {
        process.on("SIGHUP", () => {
          void sdNotify("RELOADING=1", `MONOTONIC_USEC=${monotonicUsec()}`);
          daemon
            .reload()
            .then((r) => log.info({ msg: "reload done", error: r.error }))
            .catch((e: unknown) => log.error({ msg: "reload refused: the running config stays", error: (e as Error).message }))
            .finally(() => void sdNotify("READY=1"));
        });
        const stop = (signal: string) => {
          log.info({ msg: "stopping", signal, destroy: !!opts.destroyOnExit });
          void sdNotify("STOPPING=1");
          resolve();
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
        daemon.once("fatal", (e: Error) => {
          fatal.error = e;
          log.error({ msg: "stopping: the daemon cannot go on", error: e.message });
          void sdNotify("STOPPING=1");
          resolve();
        });
      });
      const first = await daemon.start();
      onReconcile(first);

      // fed from the event loop that also runs the reconciles: a loop stuck (a hung await chain does not count)
      // stops the pings and systemd restarts the daemon; a reconcile that keeps failing is the backoff's and
      // the API's to report, not a reason to restart
      const every = watchdogIntervalMs();
      const watchdog = every !== null ? setInterval(() => void sdNotify("WATCHDOG=1"), every) : null;

      await stopped;
      if (watchdog) clearInterval(watchdog);
      // a fatal stop leaves the kernel as it is, whatever --destroy-on-exit says: the state that says what to remove is the problem
      try {
        await daemon.stop(!!opts.destroyOnExit && !fatal.error);
      } finally {
        // whatever the stop met, nothing may keep listening: an open server would keep the process alive
        await listeners.close();
      }
      log.flush?.();
      if (fatal.error) throw new CliError(`run: ${fatal.error.message}`);
    });

  program
    .command("reload")
    .description("ask the running daemon to re-read its file; an invalid file leaves the running state as it is")
    .option("--netns <name>", "the namespace whose daemon to ask")
    .option("--json", "machine-readable output")
    .action(async (opts: { netns?: string; json?: boolean }) => {
      runnerFor(opts.netns);
      const answer = await callDaemon("POST", "/v1/reload", opts.netns);
      if (!answer) throw new CliError(`reload: no symroute daemon answers on ${socketPath(opts.netns)}`);
      if (opts.json) printJson(answer.body);
      const errors = (answer.body.errors as string[] | undefined) ?? [];
      if (answer.status === 400) {
        if (!opts.json) process.stderr.write(errors.join("\n") + "\nreload refused: the running config stays\n");
        process.exitCode = EXIT.invalid;
        return;
      }
      const record = answer.body.reconcile as ReconcileRecord | undefined;
      if (answer.status !== 200) {
        if (!opts.json) process.stderr.write(`reload applied nothing: ${record?.error ?? JSON.stringify(answer.body)}\n`);
        process.exitCode = EXIT.rolledBack;
        return;
      }
      if (!opts.json) process.stdout.write(record?.changed ? `Reloaded: ${record.summary ?? "changed"}.\n` : "Reloaded: no changes.\n");
    });
}
