/**
 * HTTP to etcd's v3 JSON gateway (issue 20), over node:http and node:https:
 * one request and answer, or one streaming answer read line by line (the
 * watch). TLS material is read from files once, when the transport is made.
 * A request that gets no answer from one endpoint goes to the next, so a lost
 * etcd member costs one timeout, not the fleet's store; an answer with an
 * etcd error is returned as such (its gRPC code decides, never its text).
 */
import http from "node:http";
import https from "node:https";
import { readFileSync } from "node:fs";

/** Where etcd is and how to reach it. */
export interface TransportOptions {
  endpoints: readonly string[];
  tls?: { ca: string; cert: string; key: string };
  /** longest wait for one answer (default 3 s) */
  timeoutMs?: number;
}

/** gRPC status codes etcd answers with that say "try another member": Unavailable, DeadlineExceeded. */
const RETRY_ELSEWHERE = new Set([14, 4]);

/** An answer from etcd that is an error: its gRPC code and message. */
export class EtcdError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly endpoint: string,
  ) {
    super(`etcd ${endpoint}: ${message} (code ${code})`);
    this.name = "EtcdError";
  }
}

/** No endpoint answered: every one refused, timed out or broke the connection. */
export class EtcdUnavailableError extends Error {
  constructor(readonly failures: string[]) {
    super(`no etcd endpoint answered: ${failures.join("; ")}`);
    this.name = "EtcdUnavailableError";
  }
}

/** One open streaming answer; `done` settles when it ends (cleanly or not). */
export interface OpenStream {
  endpoint: string;
  done: Promise<void>;
  close(): void;
}

/** The HTTP side of the etcd client: endpoints, TLS, failover. */
export class Transport {
  private readonly agent: http.Agent;
  private preferred = 0;
  readonly timeoutMs: number;

  constructor(private readonly options: TransportOptions) {
    if (options.endpoints.length === 0) throw new RangeError("etcd: no endpoints");
    this.timeoutMs = options.timeoutMs ?? 3000;
    const tls = options.tls;
    this.agent = tls
      ? new https.Agent({ keepAlive: true, ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key) })
      : new http.Agent({ keepAlive: true });
  }

  get endpoints(): readonly string[] {
    return this.options.endpoints;
  }

  /** The endpoints in the order to try them: the one that last answered first. */
  order(): string[] {
    const e = this.options.endpoints;
    return e.map((_, i) => e[(this.preferred + i) % e.length]);
  }

  /** Moves the preference past an endpoint that failed. */
  demote(endpoint: string): void {
    const i = this.options.endpoints.indexOf(endpoint);
    if (i === this.preferred) this.preferred = (i + 1) % this.options.endpoints.length;
  }

  /** POSTs a JSON body to `path` on the first endpoint that answers; returns the decoded answer. */
  async post(path: string, body: unknown): Promise<Record<string, unknown>> {
    const failures: string[] = [];
    for (const endpoint of this.order()) {
      try {
        const answer = await this.once(endpoint, path, body);
        this.preferred = this.options.endpoints.indexOf(endpoint);
        return answer;
      } catch (e) {
        if (e instanceof EtcdError && !RETRY_ELSEWHERE.has(e.code)) throw e;
        failures.push(`${endpoint}: ${(e as Error).message}`);
        this.demote(endpoint);
      }
    }
    throw new EtcdUnavailableError(failures);
  }

  private once(endpoint: string, path: string, body: unknown): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const req = this.request(endpoint, path, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          let answer: Record<string, unknown>;
          try {
            answer = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
          } catch {
            return reject(new EtcdError(-1, `HTTP ${res.statusCode}: not JSON`, endpoint));
          }
          if (typeof answer.code === "number" && answer.error !== undefined) return reject(new EtcdError(answer.code, String(answer.message ?? answer.error), endpoint));
          if ((res.statusCode ?? 0) >= 300) return reject(new EtcdError(-1, `HTTP ${res.statusCode}`, endpoint));
          resolve(answer);
        });
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on("error", reject);
      req.end(JSON.stringify(body));
    });
  }

  /**
   * Opens a streaming POST on one endpoint (the watch): each line of the
   * answer goes to `onLine`. `done` rejects when the connection fails or
   * answers with an HTTP error, resolves when etcd ends the stream.
   */
  stream(endpoint: string, path: string, body: unknown, onLine: (line: Record<string, unknown>) => void): OpenStream {
    let req: http.ClientRequest | null = null;
    const done = new Promise<void>((resolve, reject) => {
      req = this.request(endpoint, path, (res) => {
        if ((res.statusCode ?? 0) >= 300) {
          res.resume();
          return reject(new EtcdError(-1, `HTTP ${res.statusCode}`, endpoint));
        }
        let buffered = "";
        res.setEncoding("utf8");
        res.on("data", (text: string) => {
          buffered += text;
          let nl: number;
          while ((nl = buffered.indexOf("\n")) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (!line) continue;
            try {
              onLine(JSON.parse(line) as Record<string, unknown>);
            } catch (e) {
              res.destroy(e as Error);
            }
          }
        });
        res.on("error", reject);
        res.on("aborted", () => reject(new Error("stream aborted")));
        res.on("close", () => (res.complete ? resolve() : reject(new Error("stream closed"))));
      });
      req.on("error", reject);
      // the watch stream lives as long as etcd keeps it: only the connection step has a deadline
      req.setTimeout(this.timeoutMs, () => req?.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on("response", () => req?.setTimeout(0));
      req.end(JSON.stringify(body));
    });
    return { endpoint, done, close: () => (req as http.ClientRequest | null)?.destroy() };
  }

  private request(endpoint: string, path: string, onResponse: (res: http.IncomingMessage) => void): http.ClientRequest {
    const url = new URL(path, endpoint);
    const options = {
      method: "POST",
      agent: this.agent,
      // clientv3's require-leader metadata, passed as gRPC metadata by the gateway: it asks a member cut off
      // from its leader to end the watch rather than leave it silent (the probe in watch.ts covers it besides)
      headers: { "content-type": "application/json", "grpc-metadata-hasleader": "true" },
    };
    return url.protocol === "https:" ? https.request(url, options, onResponse) : http.request(url, options, onResponse);
  }

  /** Closes idle connections (the owner's stop). */
  close(): void {
    this.agent.destroy();
  }
}
