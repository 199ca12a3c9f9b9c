/**
 * A real systemd (PID 1 of fresh pid, mount, uts, ipc and cgroup namespaces,
 * inside a test's network namespace) to start symroute's units under: the
 * only way to see that Type=notify, NotifyAccess=, the watchdog, reload,
 * KillMode= and the sandboxing settings work together, rather than that each
 * parses. Nothing of the host's is touched: /run is a fresh tmpfs (with the
 * host's /run/netns kept, for symroute@NS.service), /etc/systemd/system is a
 * temporary directory holding only the test's units, /dev/console is a file
 * (PID 1 writes there), and the cgroup tree is a child of this process's own.
 * Booted with --unit=sdtest.target (DefaultDependencies=no), so nothing of
 * sysinit.target (udev, tmpfiles, journald) starts.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { runProcess, type RunResult } from "../../src/kernel/runner.js";

/** Where the test's files (binary, configs, logs) appear inside the sandbox. */
export const SANDBOX_FILES = "/run/sdtest";

const SYSTEMD = "/lib/systemd/systemd";

// Runs as PID 1 of the new namespaces, then becomes systemd. $1 is the host
// directory with units/, files/ and console.
const INNER = `set -e
SBX=$1
mount --make-rprivate /
mkdir -p "$SBX/netns"
if [ -d /run/netns ]; then mount --rbind /run/netns "$SBX/netns"; fi
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/netns ${SANDBOX_FILES}
if mountpoint -q "$SBX/netns"; then mount --move "$SBX/netns" /run/netns; fi
mount --bind "$SBX/files" ${SANDBOX_FILES}
mount -t cgroup2 none /sys/fs/cgroup
mount --bind "$SBX/units" /etc/systemd/system
if [ -e /dev/console ]; then mount --bind "$SBX/console" /dev/console; fi
export container=symroute-test
exec ${SYSTEMD} --system --unit=sdtest.target
`;

const TARGET = `[Unit]
Description=symroute test boot
DefaultDependencies=no
`;

/** The cgroup2 directory this process lives in, or null without a cgroup2 mount. */
function ownCgroup(): string | null {
  const mount = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" "))
    .find((f) => f[f.indexOf("-") + 1] === "cgroup2");
  const path = readFileSync("/proc/self/cgroup", "utf8").split("\n").find((l) => l.startsWith("0::"))?.slice(3);
  if (!mount || path === undefined) return null;
  return join(mount[4], path);
}

/** Why no systemd can be booted here, or null when it can be tried. */
export function systemdSandboxUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "needs root";
  for (const tool of [SYSTEMD, "/usr/bin/unshare", "/usr/bin/nsenter", "/usr/bin/mountpoint"]) if (!existsSync(tool)) return `${tool} is missing`;
  if (spawnSync("systemctl", ["--version"]).status !== 0) return "systemctl is missing";
  const cg = ownCgroup();
  if (!cg || !existsSync(join(cg, "cgroup.procs"))) return "no cgroup2 hierarchy to give the sandbox a cgroup of its own";
  return null;
}

/** A booted systemd and ways to talk to it. */
export interface SystemdSandbox {
  /** systemd's PID as seen from here */
  readonly pid: number;
  /** the host directory that is /run/sdtest inside (files the units use, logs) */
  readonly files: string;
  /** writes a unit or drop-in under /etc/systemd/system (then call daemon-reload) */
  writeUnit(relative: string, text: string): void;
  /** systemctl inside, never throwing */
  systemctl(...args: string[]): Promise<RunResult>;
  /** properties of a unit (`systemctl show -p`) */
  show(unit: string, ...props: string[]): Promise<Record<string, string>>;
  /** runs a command inside the sandbox's mount, pid and network namespaces, never throwing */
  exec(argv: string[]): Promise<RunResult>;
  /** stops the units given, then kills systemd and removes what the sandbox made */
  shutdown(units?: string[]): Promise<void>;
}

let counter = 0;

/**
 * Boots systemd in `netns` and waits until it has reached its target. Resolves
 * with a reason instead when systemd does not come up (then nothing is left).
 */
export async function bootSystemd(netns: string, timeoutMs = 20_000): Promise<{ sandbox: SystemdSandbox } | { reason: string }> {
  counter += 1;
  const dir = mkdtempSync(join(tmpdir(), "symroute-systemd-"));
  for (const d of ["units", "files", "netns"]) mkdirSync(join(dir, d));
  writeFileSync(join(dir, "console"), "");
  writeFileSync(join(dir, "inner.sh"), INNER);
  writeFileSync(join(dir, "units", "sdtest.target"), TARGET);
  const cgroup = join(ownCgroup()!, `symroute-sd-${process.pid}-${counter}`);
  mkdirSync(cgroup);
  const privateTmpBefore = new Set(readdirSync("/tmp").filter((n) => n.startsWith("systemd-private-")));

  // the shell moves itself into the new cgroup first, so that the cgroup namespace is rooted there
  const child: ChildProcess = spawn(
    "sh",
    ["-c", `echo $$ > "$1/cgroup.procs" && exec ip netns exec "$2" unshare --fork --pid --mount --uts --ipc --cgroup --mount-proc sh "$3/inner.sh" "$3"`, "sh", cgroup, netns, dir],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));

  let pid = 0;
  const enter = (extra: string[], argv: string[]) => runProcess(["nsenter", "-t", String(pid), "-m", "-p", ...extra, ...argv], { allowFailure: true });

  const cleanup = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      // SIGKILL to PID 1 of a pid namespace ends every process in it
      if (pid) process.kill(pid, "SIGKILL");
      child.kill("SIGKILL");
      await exited;
    }
    // children first: a cgroup directory goes only when it has none
    const dirs: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
      dirs.push(d);
    };
    if (existsSync(cgroup)) walk(cgroup);
    for (const d of dirs) {
      try {
        rmdirSync(d);
      } catch {
        // a process still dying keeps it busy for a moment: once more, then give up
        await new Promise((r) => setTimeout(r, 200));
        try { rmdirSync(d); } catch { /* left for the reboot */ }
      }
    }
    // PrivateTmp= directories live in the real /tmp and outlive a killed systemd
    for (const n of readdirSync("/tmp")) if (n.startsWith("systemd-private-") && !privateTmpBefore.has(n)) rmSync(join("/tmp", n), { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + timeoutMs;
  let state = "";
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    if (!pid) {
      const children = existsSync(`/proc/${child.pid}/task/${child.pid}/children`) ? readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim() : "";
      const candidate = Number(children.split(" ")[0] || 0);
      if (candidate && readFileSync(`/proc/${candidate}/comm`, "utf8").trim() === "systemd") pid = candidate;
    }
    if (pid) {
      state = (await enter([], ["systemctl", "is-system-running"])).stdout.trim();
      if (state === "running" || state === "degraded") break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  if (state !== "running" && state !== "degraded") {
    const console = existsSync(join(dir, "console")) ? readFileSync(join(dir, "console"), "utf8") : "";
    await cleanup();
    return { reason: `systemd did not boot in a sandbox here (state '${state}'): ${(stderr + console).trim().slice(-500) || "no output"}` };
  }

  const sandbox: SystemdSandbox = {
    pid,
    files: join(dir, "files"),
    writeUnit(relative, text) {
      const path = join(dir, "units", relative);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
    },
    systemctl: (...args) => enter([], ["systemctl", "--no-pager", ...args]),
    async show(unit, ...props) {
      const r = await enter([], ["systemctl", "show", unit, ...props.map((p) => `--property=${p}`)]);
      return Object.fromEntries(r.stdout.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    },
    exec: (argv) => enter(["-n"], argv),
    async shutdown(units = []) {
      // stopped properly, the services release their PrivateTmp= and run their own exit paths
      for (const u of units) await enter([], ["timeout", "30", "systemctl", "stop", u]);
      await cleanup();
    },
  };
  return { sandbox };
}
