/**
 * The API over TCP for targets on other hosts (`daemon.api`): off unless
 * configured, and then every request needs a registrant's bearer token;
 * nothing unauthenticated listens on a network address, and plain HTTP only on
 * loopback (a token in clear text on a network is anyone's). `reload` re-reads
 * the token file and the certificate; the address and TLS on or off are fixed
 * until a restart.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { createSecureContext } from "node:tls";
import type { Daemon } from "./daemon.js";
import { handle, readTlsFiles, readTokenFile, send } from "./api.js";
import { authenticate, AUTH_FAILURE_EVENT, AuthFailureLog, tokenSet, type AuthFailure, type TokenSet } from "./auth.js";
import { parseListen } from "./metrics.js";
import { isLoopbackListen } from "../config/semanticDaemon.js";
import type { Config } from "../config/schema.js";

/** `daemon.api` as the schema gives it. */
export type ApiSettings = NonNullable<NonNullable<Config["daemon"]>["api"]>;

/** A running TCP API: its server, and the reload of its token file and certificate. */
export interface TcpApi {
  server: Server | HttpsServer;
  /**
   * Reads the token file (and certificate) of a reloaded config and returns
   * what puts them in force; throws, changing nothing, when they are unusable,
   * so the reload is refused as a whole and the old tokens stay.
   */
  prepareReload(next: ApiSettings | undefined): () => void;
  close(): Promise<void>;
}

/** The files of `settings`, read and checked; throws with the field and file of a problem. */
function readFiles(settings: ApiSettings): { tokens: TokenSet; tls: { cert: Buffer; key: Buffer } | null } {
  const tokens = tokenSet(readTokenFile(settings.tokenFile));
  if (!settings.tls) return { tokens, tls: null };
  const tls = readTlsFiles(settings.tls);
  try {
    // a key that does not match its certificate fails here, not at the first client's handshake
    createSecureContext(tls);
  } catch (e) {
    throw new Error(`daemon.api.tls: ${settings.tls.cert} and ${settings.tls.key} are not a usable certificate and key (${(e as Error).message})`);
  }
  return { tokens, tls };
}

/** Starts the API over TCP: HTTPS with `tls`, else plain HTTP on a loopback address only. */
export async function startTcpApi(daemon: Daemon, settings: ApiSettings, uplinkView: () => unknown[]): Promise<TcpApi> {
  if (!settings.tls && !isLoopbackListen(settings.listen))
    throw new Error(`daemon.api.listen: ${settings.listen} is not a loopback address; the API on a network needs daemon.api.tls (a bearer token in clear text is anyone's who sees it)`);
  const files = readFiles(settings);
  let tokens = files.tokens;
  const failures = new AuthFailureLog({
    log: (fields) => daemon.emit("log", "warn", fields),
    count: (reason: AuthFailure) => daemon.emit(AUTH_FAILURE_EVENT, reason),
  });
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const auth = authenticate(req, tokens);
    if ("failure" in auth) {
      failures.record(auth.failure, req.socket.remoteAddress);
      res.setHeader("www-authenticate", 'Bearer realm="symroute"');
      return send(res, 401, { error: "a bearer token is required (Authorization: Bearer TOKEN, a token of daemon.api.tokenFile)" });
    }
    void handle(daemon, req, res, uplinkView, auth.caller);
  };
  const server = files.tls ? createHttpsServer({ ...files.tls }, onRequest) : createHttpServer(onRequest);
  const at = parseListen(settings.listen, "daemon.api.listen");
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(at.port, at.host, () => resolve());
  });
  return {
    server,
    prepareReload(next) {
      if (!next) return () => daemon.emit("log", "warn", { msg: "daemon.api removed: the API over TCP stays until the daemon restarts" });
      const read = readFiles(next);
      return () => {
        tokens = read.tokens;
        if (read.tls && "setSecureContext" in server) server.setSecureContext({ ...read.tls });
        if (next.listen !== settings.listen || !!next.tls !== !!files.tls)
          daemon.emit("log", "warn", { msg: "daemon.api.listen and daemon.api.tls on or off take effect when the daemon restarts", listen: settings.listen, tls: !!files.tls });
        daemon.emit("log", "info", { msg: "API tokens reloaded", tokens: read.tokens.tokens.map((t) => t.entry.name) });
      };
    },
    async close() {
      failures.flush();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
