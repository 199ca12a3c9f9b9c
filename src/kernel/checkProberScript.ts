/**
 * The program of the daemon's one check prober process (run as `node -e`,
 * inside the daemon's namespace): it runs every TCP, HTTP and command check
 * of the daemon, so 256 checked targets cost one process instead of 256.
 * Plain JavaScript in a string because it runs in a process of its own and
 * must survive bundling; the records it reads and writes are typed in
 * checkProber.ts.
 *
 * stdin, one JSON object a line:
 *   {"op":"open","id":N,"target":A,"source":S,"method":M,"intervalMs":I,"timeoutMs":T}
 *   {"op":"close","id":N}
 * stdout, one a line, for each probe of stream N (seq 1, 2, ... from its open):
 *   {"id":N,"seq":K,"ok":true,"rttMs":R}   {"id":N,"seq":K,"ok":false,"error":E}
 *
 * A stream probes at once, then every I ms; a probe still going after T ms is
 * cut off and fails with "timeout". METHOD is a TCP connect from S (a refused
 * one fails), an HTTP GET healthy on the expected status (the body read and
 * dropped), or a command (no shell, the target in its environment) healthy on
 * exit 0. A command runs in a process group of its own (detached), and the
 * whole group is killed when its probe ends, however it ends: what a check
 * forked (`sleep 100 &`) goes with it. When the daemon goes (stdin closes, or
 * the SIGTERM of its parent-death signal) every running command group is
 * killed before this process exits.
 */
export const CHECK_PROBER_SCRIPT = `"use strict";
// symroute-check-prober
const net = require("node:net"), http = require("node:http"), cp = require("node:child_process");
const streams = new Map();
const write = (record) => { process.stdout.write(JSON.stringify(record) + "\\n"); };
const reason = (e) => (e && (e.code || e.message)) || "failed";
const killGroup = (pid) => { try { process.kill(-pid, "SIGKILL"); } catch {} };
const starters = {
  tcp(s, ok, fail) {
    const socket = net.connect({ host: s.target, port: s.method.port, localAddress: s.source });
    socket.on("connect", ok);
    socket.on("error", (e) => fail(reason(e)));
    return () => socket.destroy();
  },
  http(s, ok, fail) {
    const m = s.method;
    const host = s.target.includes(":") ? "[" + s.target + "]" : s.target;
    const req = http.request({ host: s.target, port: m.port, path: m.path, method: "GET", localAddress: s.source, agent: false, headers: { host, "user-agent": "symroute-check" } });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === m.status ? ok() : fail("status " + res.statusCode)));
      res.on("error", (e) => fail(reason(e)));
    });
    req.on("error", (e) => fail(reason(e)));
    req.end();
    return () => req.destroy();
  },
  command(s, ok, fail) {
    const m = s.method;
    const env = { PATH: process.env.PATH || "/usr/sbin:/usr/bin:/sbin:/bin", ...m.env, SYMROUTE_ADDRESS: s.target, SYMROUTE_SOURCE: s.source };
    const child = cp.spawn(m.argv[0], m.argv.slice(1), { stdio: "ignore", env, detached: true });
    child.on("error", (e) => fail(reason(e)));
    child.on("exit", (code, signal) => (code === 0 ? ok() : fail(signal ? "killed by " + signal : "exit " + code)));
    return () => { if (child.pid) killGroup(child.pid); };
  },
};
const probe = (s) => {
  const seq = ++s.seq;
  const start = process.hrtime.bigint();
  let done = false;
  let cancel = () => {};
  const stop = () => cancel();
  s.running.add(stop);
  const finish = (result) => {
    if (done) return;
    done = true;
    s.running.delete(stop);
    clearTimeout(timer);
    cancel();
    if (!s.closed) write({ id: s.id, seq, ...result });
  };
  const timer = setTimeout(() => finish({ ok: false, error: "timeout" }), s.timeoutMs);
  const ok = () => finish({ ok: true, rttMs: Math.round(Number(process.hrtime.bigint() - start) / 1e3) / 1e3 });
  const fail = (error) => finish({ ok: false, error });
  try { cancel = starters[s.method.kind](s, ok, fail); } catch (e) { fail(reason(e)); }
  if (done) cancel();
};
const close = (s) => {
  s.closed = true;
  clearInterval(s.timer);
  for (const c of s.running) c();
  s.running.clear();
  streams.delete(s.id);
};
const quit = () => { for (const s of [...streams.values()]) close(s); process.exit(0); };
process.on("SIGTERM", quit);
process.stdin.on("end", quit);
process.stdin.on("error", quit);
process.stdout.on("error", quit);
let rest = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  const lines = (rest + chunk).split("\\n");
  rest = lines.pop();
  for (const line of lines) {
    let c;
    try { c = JSON.parse(line); } catch { continue; }
    if (c.op === "open" && !streams.has(c.id) && starters[c.method && c.method.kind]) {
      const s = { id: c.id, target: c.target, source: c.source, method: c.method, timeoutMs: c.timeoutMs, seq: 0, running: new Set(), closed: false, timer: null };
      streams.set(s.id, s);
      probe(s);
      s.timer = setInterval(() => probe(s), c.intervalMs);
    } else if (c.op === "close" && streams.has(c.id)) close(streams.get(c.id));
  }
});
`;
