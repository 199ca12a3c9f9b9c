/**
 * The scale-out lab's client: one node process in the client namespace that
 * holds hundreds of long-lived TCP flows to the VIP (a line every 200 ms each,
 * answered by the target's name) and, on demand, opens new connections every
 * 20 ms. A flow breaks when it is reset, answered by another target than its
 * first, or silent for longer than TCP's retransmissions need to bridge a
 * router's convergence.
 */
import type { Lab } from "./lab.js";
import { ScriptDriver } from "./driver.js";

const DRIVER = `
const net = require("node:net");
const [host, port] = process.argv.slice(1);
const flows = [];
let attempts = [];
let prober = null;
function open() {
  const f = { target: null, last: 0, closed: false, moved: false, replies: 0 };
  flows.push(f);
  const s = net.connect({ host, port: Number(port) });
  let buf = "";
  s.setNoDelay(true);
  s.on("data", (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf("\\n")) >= 0) {
      const name = buf.slice(0, i); buf = buf.slice(i + 1);
      if (f.target === null) f.target = name; else if (name !== f.target) f.moved = true;
      f.last = Date.now(); f.replies++;
    }
  });
  s.on("error", () => {});
  s.on("close", () => { f.closed = true; });
  const t = setInterval(() => { if (s.destroyed) return clearInterval(t); if (s.readyState === "open") s.write("x\\n"); }, 200);
}
function attempt() {
  const a = { start: Date.now(), end: 0, ok: false };
  attempts.push(a);
  const s = net.connect({ host, port: Number(port) });
  const done = (ok) => { if (a.end) return; a.end = Date.now(); a.ok = ok; s.destroy(); };
  const t = setTimeout(() => done(false), 1000);
  s.on("connect", () => s.write("x\\n"));
  s.on("data", () => { clearTimeout(t); done(true); });
  s.on("error", () => { clearTimeout(t); done(false); });
  s.on("close", () => { clearTimeout(t); done(false); });
}
let rest = "";
process.stdin.on("data", (d) => {
  rest += d;
  const lines = rest.split("\\n");
  rest = lines.pop();
  for (const line of lines) {
    const [cmd, arg] = line.trim().split(" ");
    if (cmd === "open") { const n = Number(arg); let k = 0; const t = setInterval(() => { for (let j = 0; j < 20 && k < n; j++, k++) open(); if (k >= n) clearInterval(t); }, 10); }
    else if (cmd === "probe") { attempts = []; clearInterval(prober); attempt(); prober = setInterval(attempt, 20); }
    else if (cmd === "stop") { clearInterval(prober); prober = null; }
    else if (cmd === "status") process.stdout.write(JSON.stringify({ now: Date.now(), flows, attempts: attempts.filter((a) => a.end) }) + "\\n");
  }
});
process.stdin.on("end", () => process.exit(0));
`;

export interface Flow {
  target: string | null;
  last: number;
  closed: boolean;
  moved: boolean;
  replies: number;
}
export interface FlowStatus {
  now: number;
  flows: Flow[];
  attempts: { start: number; end: number; ok: boolean }[];
}

/** A flow is broken once reset, moved to another target, or silent longer than `silentMs`. */
export function broken(f: Flow, now: number, silentMs = 2000): boolean {
  return f.closed || f.moved || f.target === null || now - f.last > silentMs;
}

/** The client process. */
export class FlowDriver extends ScriptDriver<FlowStatus> {
  constructor(lab: Lab, host: string, vip: string, port: number) {
    super(lab, host, DRIVER, [vip, String(port)]);
  }
}
