/**
 * A stand-in for systemd's notification socket: a unix datagram socket that
 * records every message with the sender's credentials (SO_PASSCRED), so tests
 * see exactly what `systemd-notify` hands to the service manager and under
 * which PID. Node has no unix datagram sockets, hence a small python3 child;
 * socat's UNIX-RECV would do without python but loses the boundaries between
 * datagrams and the sender's PID.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

/** One datagram as the service manager would get it. */
export interface NotifyMessage {
  /** the sender's PID as the kernel vouches for it (SCM_CREDENTIALS) */
  pid: number;
  /** the assignments, one per line in the datagram */
  fields: string[];
  /** when it arrived (process.hrtime, milliseconds) */
  atMs: number;
}

// Binds the socket, prints "listening", then one JSON line per datagram. File
// descriptors that come along (BARRIER=1 sends a pipe) are closed at once, as
// systemd does once it has processed everything before them: that is what
// lets systemd-notify return.
const LISTENER = String.raw`
import array, json, os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print("listening", flush=True)
while True:
    msg, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(16 * 4))
    pid = -1
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", data[:12])[0]
        elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
            for fd in fds:
                os.close(fd)
    print(json.dumps({"pid": pid, "text": msg.decode("utf-8", "replace")}), flush=True)
`;

/** A running listener: its socket path and everything received so far. */
export interface NotifyListener {
  readonly socket: string;
  readonly messages: NotifyMessage[];
  /** the first message (from index `from` on) that satisfies `match`; rejects after `timeoutMs` */
  next(match: (m: NotifyMessage) => boolean, timeoutMs: number, from?: number): Promise<NotifyMessage>;
  close(): Promise<void>;
}

/** Why a listener cannot run here, or null when it can. */
export function notifyListenerUnavailable(): string | null {
  const r = spawnSync("python3", ["-c", "import socket; socket.SO_PASSCRED; socket.SCM_CREDENTIALS"], { encoding: "utf8" });
  if (r.error || r.status !== 0) return "python3 (with socket.SO_PASSCRED) is not available for the notification listener";
  return null;
}

/** Starts a listener on a fresh socket in a temporary directory. */
export async function startNotifyListener(): Promise<NotifyListener> {
  const dir = mkdtempSync(join(tmpdir(), "symroute-notify-"));
  const socket = join(dir, "notify.sock");
  const child: ChildProcess = spawn("python3", ["-c", LISTENER, socket], { stdio: ["ignore", "pipe", "pipe"] });
  const messages: NotifyMessage[] = [];
  const waiters = new Set<() => void>();
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout! });
  const listening = new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`notification listener exited ${code}: ${stderr}`)));
    lines.on("line", (line) => {
      if (line === "listening") return resolve();
      const { pid, text } = JSON.parse(line) as { pid: number; text: string };
      messages.push({ pid, fields: text.split("\n").filter((f) => f !== ""), atMs: Number(process.hrtime.bigint()) / 1e6 });
      for (const w of [...waiters]) w();
    });
  });
  await listening;

  return {
    socket,
    messages,
    next(match, timeoutMs, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.slice(from).find(match);
          if (!found) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching notification within ${timeoutMs} ms; received: ${JSON.stringify(messages.map((m) => m.fields))}`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise<void>((r) => child.once("exit", () => r()));
        child.kill("SIGTERM");
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Does a message carry this assignment (e.g. "READY=1")? */
export function has(m: NotifyMessage, field: string): boolean {
  return m.fields.includes(field);
}

/** The value of `KEY=` in a message, if present. */
export function valueOf(m: NotifyMessage, key: string): string | undefined {
  return m.fields.find((f) => f.startsWith(`${key}=`))?.slice(key.length + 1);
}
