/**
 * systemd-networkd running for real inside one lab host, as DESIGN's kernel
 * notes describe: a mount namespace of its own (`unshare -m`) with private
 * tmpfs on /run, /etc/systemd/network and /etc/sysctl.d (the host's files
 * stay untouched and unseen), /sys read-only so networkd does not wait for
 * udev, and a system D-Bus of its own so `networkctl reload` works.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Lab } from "../../src/lab/lab.js";
import { runProcess, type RunResult } from "../../src/kernel/runner.js";

/** The networkd binary of Debian and most distributions. */
export const NETWORKD = "/lib/systemd/systemd-networkd";
/** systemd-sysctl, which applies sysctl.d at boot (networkd never does). */
export const SYSTEMD_SYSCTL = "/lib/systemd/systemd-sysctl";

const HOLDER = `set -e
mount -t tmpfs -o mode=755 rl-run /run
mount -t tmpfs -o mode=755 rl-network /etc/systemd/network
mount -t tmpfs -o mode=755 rl-sysctl /etc/sysctl.d
mount -o remount,ro /sys
mkdir -p /run/dbus /run/systemd/netif
chown systemd-network:systemd-network /run/systemd/netif
touch /run/rl-ready
exec sleep infinity`;

/** One networkd (with its D-Bus) in one lab host. */
export class NetworkdInHost {
  private holder: ChildProcess | null = null;
  private readonly daemons: ChildProcess[] = [];
  /** networkd's own output: warnings about unknown keys land here. */
  readonly logFile: string;

  constructor(
    private readonly lab: Lab,
    private readonly host: string,
  ) {
    this.logFile = join(mkdtempSync(join(tmpdir(), "rl-networkd-")), "networkd.log");
  }

  /** Runs a command in networkd's mount namespace and the host's network namespace. */
  exec(argv: string[], stdin?: string): Promise<RunResult> {
    if (!this.holder?.pid) throw new Error("networkd namespace not started");
    return runProcess(["nsenter", "-t", String(this.holder.pid), "-m", "-n", "--", ...argv], { stdin, allowFailure: true });
  }

  /** Writes a file inside the private mounts (the rendered path, as on a real host). */
  async writeFile(path: string, content: string): Promise<void> {
    const r = await this.exec(["sh", "-c", 'mkdir -p "$1" && cat > "$2"', "sh", dirname(path), path], content);
    if (r.code !== 0) throw new Error(`writing ${path}: ${r.stderr}`);
  }

  /** Removes a file and its directory when it is left empty. */
  async removeFile(path: string): Promise<void> {
    const r = await this.exec(["sh", "-c", 'rm "$1" && { rmdir "$2" 2>/dev/null || true; }', "sh", path, dirname(path)]);
    if (r.code !== 0) throw new Error(`removing ${path}: ${r.stderr}`);
  }

  /** Starts the mounts, D-Bus and networkd with the given files already in place. */
  async start(files: Map<string, string>): Promise<void> {
    this.holder = spawn("ip", ["netns", "exec", this.lab.ns(this.host), "unshare", "-m", "--propagation", "private", "sh", "-c", HOLDER], { stdio: "ignore" });
    await this.waitFor(["test", "-e", "/run/rl-ready"], "private mounts");
    for (const [path, content] of files) await this.writeFile(path, content);
    this.daemon(["dbus-daemon", "--system", "--nofork", "--nopidfile"]);
    await this.waitFor(["test", "-S", "/run/dbus/system_bus_socket"], "D-Bus");
    this.daemon([NETWORKD]);
  }

  private daemon(argv: string[]): void {
    const log = openSync(this.logFile, "a");
    const child = spawn("nsenter", ["-t", String(this.holder!.pid), "-m", "-n", "--", ...argv], { stdio: ["ignore", log, log] });
    closeSync(log);
    child.on("error", () => undefined);
    this.daemons.push(child);
  }

  private async waitFor(argv: string[], what: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if (this.holder?.exitCode !== null) throw new Error(`networkd namespace holder exited (${what})`);
      if ((await this.exec(argv)).code === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  /** `networkctl reload`: networkd rereads its files and reconfigures the links whose files changed. */
  async reload(): Promise<RunResult> {
    return this.exec(["networkctl", "reload"]);
  }

  /** The SETUP column of `networkctl list` for every managed link. */
  async setupStates(): Promise<Record<string, string>> {
    const r = await this.exec(["networkctl", "list", "--no-legend", "--no-pager"]);
    const out: Record<string, string> = {};
    for (const line of r.stdout.split("\n")) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 5 && f[4] !== "unmanaged") out[f[1]] = f[4];
    }
    return out;
  }

  /** networkd's output so far. */
  log(): string {
    return readFileSync(this.logFile, "utf8");
  }

  /** Stops networkd, D-Bus and the holder (its mounts go with it), and removes the log. */
  async stop(): Promise<void> {
    const all = [...this.daemons.splice(0).reverse(), ...(this.holder ? [this.holder] : [])];
    this.holder = null;
    for (const c of all) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      await new Promise<void>((resolve) => {
        c.once("exit", () => resolve());
        c.kill("SIGTERM");
        setTimeout(() => {
          c.kill("SIGKILL");
          resolve();
        }, 2000).unref();
      });
    }
    rmSync(dirname(this.logFile), { recursive: true, force: true });
  }
}

/** A .network file for an interface configured as the lab left it: its addresses and main-table routes. */
export function baseNetworkFile(dev: string, addresses: string[], routes: { dst: string; gateway?: string }[]): string {
  const lines = ["[Match]", `Name=${dev}`, "", "[Network]", "# the lab has no router advertisements; waiting for one would keep the link configuring", "IPv6AcceptRA=no", ...addresses.map((a) => `Address=${a}`), ""];
  for (const r of routes) lines.push("[Route]", ...(r.dst !== "default" ? [`Destination=${r.dst}`] : []), ...(r.gateway ? [`Gateway=${r.gateway}`] : []), "");
  return lines.join("\n");
}
