/**
 * Talks to a running daemon over its unix socket: `symroute reload`, and
 * `status` / `lb show` when a daemon runs (they read the kernel otherwise).
 */
import { request } from "node:http";
import { existsSync } from "node:fs";
import { socketPath } from "./api.js";

/** An answer of the API. */
export interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** Calls the daemon of a namespace; null when no daemon answers. */
export function callDaemon(method: "GET" | "POST" | "DELETE", path: string, netns?: string, timeoutMs = 60_000, body?: unknown): Promise<ApiAnswer | null> {
  const socket = socketPath(netns);
  if (!existsSync(socket)) return Promise.resolve(null);
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path, method, timeout: timeoutMs }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
        } catch {
          resolve(null);
        }
      });
    });
    req.on("error", () => resolve(null));
    req.on("timeout", () => req.destroy());
    if (body !== undefined) {
      const text = JSON.stringify(body);
      req.setHeader("content-type", "application/json");
      req.setHeader("content-length", Buffer.byteLength(text));
      req.end(text);
    } else req.end();
  });
}
