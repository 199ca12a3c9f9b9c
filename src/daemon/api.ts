/**
 * The daemon's local API: HTTP over a unix socket (mode 0660) with versioned
 * JSON. GET /v1/status, /v1/plan, /v1/uplinks, /v1/balancers; POST /v1/reload.
 * Shapes are documented in README ("The daemon's API").
 */
import { createServer, type Server, type IncomingMessage, type ServerResponse } from "node:http";
import { chmodSync, lstatSync, readFileSync, rmSync, statSync } from "node:fs";
import { connect } from "node:net";
import type { Daemon } from "./daemon.js";
import { formatIssue } from "../config/errors.js";
import { ensureStateDir } from "../engine/index.js";
import { join } from "node:path";
import { RegistryError } from "./registry.js";
import { parseTokenFile, TokenFileError, type ApiToken } from "./tokens.js";
import { callerMayUse, callerName, LOCAL_CALLER, type Caller } from "./caller.js";
import { durationMs } from "../config/schema.js";
import { stateDir } from "../engine/index.js";

/** The API version in every path and every answer. */
export const API_VERSION = 1;

/** The socket of a namespace's daemon (or the host's). */
export function socketPath(netns?: string): string {
  return join(stateDir(), netns ? `netns-${netns}.sock` : "symroute.sock");
}

/** A reload that failed on the config: the located errors, as data. */
export class ConfigReloadError extends Error {
  constructor(readonly issues: string[]) {
    super(issues.join("\n"));
  }
}

/** Writes a JSON answer with the API's version. */
export function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify({ apiVersion: API_VERSION, ...(body as object) }, null, 2) + "\n";
  res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Is something answering on this socket? (A leftover file from a killed daemon is not.) */
export function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Starts the API on the daemon's socket; refuses when another daemon answers there. */
export async function startApi(daemon: Daemon, path: string, uplinkView: () => unknown[]): Promise<Server> {
  ensureStateDir();
  try {
    if (lstatSync(path).isSocket()) {
      if (await socketAlive(path)) throw new Error(`another symroute daemon answers on ${path}`);
      rmSync(path);
    } else throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const server = createServer((req, res) => void handle(daemon, req, res, uplinkView, LOCAL_CALLER));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o660);
  return server;
}

/**
 * Reads the API's token file: a regular file, not a symlink, readable by its
 * owner only (0600 or 0400); its lines are parsed by tokens.ts. Anything else
 * is refused: a token others can read authenticates nobody.
 */
export function readTokenFile(path: string): ApiToken[] {
  return reading("daemon.api.tokenFile", path, () => tokensOf(path));
}

function tokensOf(path: string): ApiToken[] {
  const st = lstatSync(path);
  if (st.isSymbolicLink() || !st.isFile()) throw new Error(`daemon.api.tokenFile ${path} is not a regular file`);
  if ((st.mode & 0o077) !== 0) throw new Error(`daemon.api.tokenFile ${path} has mode ${(st.mode & 0o777).toString(8)}; it must be readable by its owner only (chmod 600)`);
  try {
    return parseTokenFile(readFileSync(path, "utf8"), path);
  } catch (e) {
    if (e instanceof TokenFileError) throw new Error(`daemon.api.tokenFile: ${e.message}`);
    throw e;
  }
}

/**
 * Reads the certificate and key of `daemon.api.tls`. The key may be a symlink
 * (certbot's live/ directory is made of them) but others must not read it.
 */
export function readTlsFiles(tls: { cert: string; key: string }): { cert: Buffer; key: Buffer } {
  const key = reading("daemon.api.tls.key", tls.key, () => {
    const st = statSync(tls.key);
    if (!st.isFile()) throw new Error(`daemon.api.tls.key ${tls.key} is not a regular file`);
    if ((st.mode & 0o007) !== 0) throw new Error(`daemon.api.tls.key ${tls.key} has mode ${(st.mode & 0o777).toString(8)}; others must not read it (chmod 600 or 640)`);
    return readFileSync(tls.key);
  });
  return { cert: reading("daemon.api.tls.cert", tls.cert, () => readFileSync(tls.cert)), key };
}

/** Runs a read of a file the config names; a system error (ENOENT, EACCES) is said with the field and the path. */
function reading<T>(field: string, path: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code) throw new Error(`${field} ${path}: cannot read it (${code})`);
    throw e;
  }
}

/** Reads a JSON body of at most 64 KiB; an empty body is {}. */
async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of req) {
    text += (chunk as Buffer).toString();
    if (text.length > 65536) throw new RegistryError(400, "request body over 64 KiB");
  }
  if (!text.trim()) return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new RegistryError(400, `request body is not JSON (${(e as Error).message})`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new RegistryError(400, "request body must be a JSON object");
  return body as Record<string, unknown>;
}

const TARGETS = /^\/v1\/balancers\/([A-Za-z0-9_.-]+)\/targets(?:\/([A-Za-z0-9_.-]+)(?:\/(drain|undrain|renew))?)?$/;

/**
 * A token caller acting on a balancer its token does not allow, as a 403
 * (issue 17); null when allowed. Everything about single targets (owners, the
 * file's targets) is the registry's to refuse.
 */
function refusal(caller: Caller, balancer: string): string | null {
  return callerMayUse(caller, balancer) ? null : `${callerName(caller)} may not use balancer ${balancer}`;
}

/** Registration, renewal, removal and drains of a balancer's targets (issue 12), each on behalf of `caller`. */
async function handleTargets(daemon: Daemon, req: IncomingMessage, res: ServerResponse, m: RegExpExecArray, caller: Caller): Promise<void> {
  const [, balancer, name, action] = m;
  const refused = refusal(caller, balancer);
  if (refused) return send(res, 403, { error: refused });
  if (req.method === "GET" && !name) return send(res, 200, { targets: daemon.targetList().filter((t) => t.balancer === balancer) });
  if (req.method === "POST" && !name) {
    const body = await readBody(req);
    const { lease, ...target } = body;
    if (lease !== undefined && typeof lease !== "string") throw new RegistryError(400, "lease: must be a duration such as 30s");
    const done = await daemon.registerTarget(balancer, target, lease as string | undefined, caller);
    return send(res, done.reconcile ? 201 : 200, { target: done.view, reconcile: done.reconcile });
  }
  if (req.method === "DELETE" && name && !action) return send(res, 200, { removed: `${balancer}/${name}`, reconcile: await daemon.removeTarget(balancer, name, caller) });
  if (req.method === "POST" && name && action === "renew") return send(res, 200, { target: daemon.renewTarget(balancer, name, caller) });
  if (req.method === "POST" && name && action === "drain") {
    const body = await readBody(req);
    let timeoutMs: number | undefined;
    if (body.timeout !== undefined) {
      const ms = typeof body.timeout === "string" ? durationMs(body.timeout) : null;
      if (ms === null) throw new RegistryError(400, "timeout: must be a duration such as 30s or 5m");
      timeoutMs = ms;
    }
    const done = await daemon.drainTarget(balancer, name, timeoutMs, caller);
    return send(res, 202, { target: done.view, reconcile: done.reconcile });
  }
  if (req.method === "POST" && name && action === "undrain") return send(res, 200, { undrained: `${balancer}/${name}`, reconcile: await daemon.undrainTarget(balancer, name, caller) });
  send(res, 405, { error: `${req.method} is not allowed on ${req.url}` });
}

/** Answers one request of `caller` (the socket's, or a token's after tcpApi.ts authenticated it). */
export async function handle(daemon: Daemon, req: IncomingMessage, res: ServerResponse, uplinkView: () => unknown[], caller: Caller): Promise<void> {
  const url = (req.url ?? "/").split("?")[0];
  try {
    const targets = TARGETS.exec(url);
    if (targets) return await handleTargets(daemon, req, res, targets, caller);
    if (req.method === "GET" && url === "/v1/status") {
      return send(res, 200, { daemon: daemon.snapshot(), kernel: await daemon.engineStatus() });
    }
    if (req.method === "GET" && url === "/v1/plan") {
      const plan = await daemon.plan();
      return send(res, 200, { plan });
    }
    if (req.method === "GET" && url === "/v1/bgp") return send(res, 200, { bgp: await daemon.bgpStatus() });
    if (req.method === "GET" && url === "/v1/uplinks") return send(res, 200, { uplinks: uplinkView() });
    if (req.method === "GET" && url === "/v1/balancers") {
      // each target with its check's state (null without a check): down ones have no entries in the table
      // a token sees the balancers it may use, not the others' targets
      const balancers = (await daemon.balancers()).filter((b) => callerMayUse(caller, b.name));
      return send(res, 200, { balancers });
    }
    if (req.method === "POST" && url === "/v1/reload") {
      // re-reading the file (and the token file) is the operator's, like SIGHUP
      if (caller.kind !== "local") return send(res, 403, { error: "reload needs the local socket" });
      try {
        const record = await daemon.reload();
        return send(res, record.error ? 500 : 200, { reloaded: !record.error, reconcile: record });
      } catch (e) {
        const issues = (e as { issues?: Parameters<typeof formatIssue>[0][] }).issues;
        return send(res, 400, { reloaded: false, errors: issues ? issues.map(formatIssue) : [(e as Error).message] });
      }
    }
    send(res, 404, { error: `no such endpoint: ${req.method} ${url}` });
  } catch (e) {
    if (e instanceof RegistryError) return send(res, e.status, { error: e.message, errors: e.errors });
    send(res, 500, { error: e instanceof Error ? e.message : String(e) });
  }
}
