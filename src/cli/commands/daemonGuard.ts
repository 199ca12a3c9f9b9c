/**
 * One-shot writers (`apply`, `apply --confirm-timeout`, `destroy`) refuse
 * while a `symroute run` daemon manages the same namespace: the daemon
 * reconciles to its own file, so it would silently undo the change a moment
 * later (0.4 s measured) and the command would have said "Applied" for nothing.
 * `--force` goes ahead anyway.
 */
import { existsSync } from "node:fs";
import { CliError } from "../common.js";
import { socketAlive, socketPath } from "../../daemon/api.js";
import { callDaemon } from "../../daemon/client.js";

/** The daemon that answers for a namespace (its socket, and its file when it says), or null when none answers. */
export async function managingDaemon(netns?: string): Promise<{ socket: string; file: string | null } | null> {
  const socket = socketPath(netns);
  if (!existsSync(socket) || !(await socketAlive(socket))) return null;
  // the file is a courtesy: a daemon busy past the short wait is still named by its socket
  const answer = await callDaemon("GET", "/v1/status", netns, 2000);
  const file = (answer?.body.daemon as { file?: unknown } | undefined)?.file;
  return { socket, file: typeof file === "string" ? file : null };
}

/** Throws (exit 1) when a daemon manages the namespace, unless forced; forced, warns on stderr. */
export async function refuseWhileDaemonRuns(command: "apply" | "destroy", netns: string | undefined, force: boolean | undefined): Promise<void> {
  const daemon = await managingDaemon(netns);
  if (!daemon) return;
  const where = netns ? `network namespace ${netns}` : "this host";
  const ns = netns ? ` --netns ${netns}` : "";
  const who = `a symroute daemon (symroute run) manages ${where}: its API answers on ${daemon.socket}${daemon.file ? ` and its file is ${daemon.file}` : ""}`;
  if (force) {
    process.stderr.write(`warning: ${who}; --force: going ahead, but the daemon undoes whatever differs from its file at its next reconcile\n`);
    return;
  }
  const what =
    command === "apply"
      ? `it would undo this apply at its next reconcile. Edit ${daemon.file ?? "its file"} and run 'symroute reload${ns}', or stop the daemon first`
      : `it would put everything back at its next reconcile. Stop the daemon first (started with --destroy-on-exit, stopping it removes what symroute owns)`;
  throw new CliError(`${command}: refused: ${who}; ${what}. --force ${command === "apply" ? "applies" : "destroys"} anyway.`);
}
