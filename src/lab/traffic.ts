/**
 * Real traffic for labs and tests: a socat echo server and a client that
 * proves a TCP connection carries data both ways.
 */
import type { Lab } from "./lab.js";
import { parseAddress } from "../net/ip.js";

/** socat address words for TCP to or from an address. */
function bracket(address: string): string {
  return parseAddress(address)?.family === 6 ? `[${address}]` : address;
}

/** Starts a TCP echo server on address:port in a host. */
export function startEchoServer(lab: Lab, host: string, address: string, port: number) {
  const v6 = parseAddress(address)?.family === 6;
  const listen = `${v6 ? "TCP6" : "TCP4"}-LISTEN:${port},bind=${bracket(address)},fork,reuseaddr${v6 ? ",ipv6only=1" : ""}`;
  return lab.background(host, ["socat", listen, "EXEC:cat"]);
}

/** Waits until `count` TCP servers listen on the port (ss sees them) so a test does not race them. */
export async function waitListening(lab: Lab, host: string, port: number, count = 1, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const r = await lab.exec(host, ["ss", "-ltnH", `sport = :${port}`], undefined, true);
    if (r.stdout.trim().split("\n").filter(Boolean).length >= count) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`nothing listens on port ${port} in ${host}`);
}

/** Result of one connection attempt. */
export interface ConnectResult {
  ok: boolean;
  reply: string;
  error: string;
}

/** Opens a TCP connection from a host, sends a line and expects it echoed. */
export async function tcpEcho(lab: Lab, host: string, address: string, port: number, opts: { timeoutSec?: number; sourcePort?: number; bind?: string } = {}): Promise<ConnectResult> {
  const v6 = parseAddress(address)?.family === 6;
  const t = opts.timeoutSec ?? 2;
  const bindParts: string[] = [];
  if (opts.bind || opts.sourcePort) bindParts.push(`bind=${opts.bind ? bracket(opts.bind) : ""}${opts.sourcePort ? `:${opts.sourcePort}` : ""}`);
  const target = [`${v6 ? "TCP6" : "TCP4"}:${bracket(address)}:${port}`, `connect-timeout=${t}`, ...bindParts].join(",");
  const message = `symroute-${Math.random().toString(36).slice(2)}`;
  const r = await lab.exec(host, ["timeout", String(t + 2), "socat", `-T${t}`, "-", target], message + "\n", true);
  const reply = r.stdout.trim();
  return { ok: r.code === 0 && reply === message, reply, error: r.stderr.trim() };
}
