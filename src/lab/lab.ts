/**
 * A set of network namespaces joined by veth pairs, with unique names so
 * tests can run side by side, and a teardown that removes everything it made
 * (also after a failure or Ctrl-C).
 */
import { ProcessRunner, runProcess, type Runner, type RunResult } from "../kernel/runner.js";
import { startBackground, type BackgroundProcess } from "../kernel/background.js";

let counter = 0;

/** One lab: namespaces, links and background processes it owns. */
export class Lab {
  readonly prefix: string;
  private readonly namespaces: string[] = [];
  private readonly processes: BackgroundProcess[] = [];

  /** `base` starts every namespace name ("sr"; the scale-out lab and its tests use "sb") */
  constructor(tag: string, base = "sr") {
    counter += 1;
    this.prefix = `${base}${tag}${process.pid % 100000}x${counter}`;
  }

  /** The full namespace name of a host in this lab. */
  ns(host: string): string {
    return `${this.prefix}-${host}`;
  }

  /** A runner inside one host. */
  runner(host: string): Runner {
    return new ProcessRunner(this.ns(host));
  }

  /** Runs a command inside a host; throws on failure unless allowed. */
  exec(host: string, argv: string[], stdin?: string, allowFailure = false): Promise<RunResult> {
    return this.runner(host).run(argv, { stdin, allowFailure });
  }

  /** Creates hosts with loopback up and IPv6 DAD off (addresses usable at once). */
  async addHosts(...hosts: string[]): Promise<void> {
    for (const host of hosts) {
      await runProcess(["ip", "netns", "add", this.ns(host)]);
      this.namespaces.push(this.ns(host));
      await this.exec(host, ["ip", "link", "set", "lo", "up"]);
      await this.exec(host, ["sysctl", "-q", "-w", "net/ipv6/conf/all/accept_dad=0", "net/ipv6/conf/default/accept_dad=0",
        "net/ipv4/conf/all/rp_filter=0", "net/ipv4/conf/default/rp_filter=0"]);
    }
  }

  /** Joins two hosts with a veth pair and brings both ends up. */
  async link(hostA: string, ifA: string, hostB: string, ifB: string): Promise<void> {
    await runProcess(["ip", "link", "add", ifA, "netns", this.ns(hostA), "type", "veth", "peer", "name", ifB, "netns", this.ns(hostB)]);
    await this.exec(hostA, ["ip", "link", "set", ifA, "up"]);
    await this.exec(hostB, ["ip", "link", "set", ifB, "up"]);
  }

  /** Adds addresses to an interface (`ip addr add`), IPv4 or IPv6. */
  async addr(host: string, dev: string, ...cidrs: string[]): Promise<void> {
    for (const cidr of cidrs) await this.exec(host, ["ip", "addr", "add", cidr, "dev", dev, ...(cidr.includes(":") ? ["nodad"] : [])]);
  }

  /** Adds a route: `ip route add WORDS...`. */
  async route(host: string, ...words: string[]): Promise<void> {
    const family = words.some((w) => w.includes(":")) ? "-6" : "-4";
    await this.exec(host, ["ip", family, "route", "add", ...words]);
  }

  /** Turns on forwarding for both families. */
  async forwarding(host: string): Promise<void> {
    await this.exec(host, ["sysctl", "-q", "-w", "net/ipv4/ip_forward=1", "net/ipv6/conf/all/forwarding=1"]);
  }

  /** Loads an nft ruleset given as JSON commands inside a host. */
  async nft(host: string, commands: Record<string, unknown>[]): Promise<void> {
    await this.exec(host, ["nft", "-j", "-f", "-"], JSON.stringify({ nftables: commands }));
  }

  /** Packets counted by every `counter` of an nft table in a host. */
  async counted(host: string, family: string, table: string): Promise<number> {
    const r = await this.exec(host, ["nft", "-j", "list", "table", family, table]);
    const objects = (JSON.parse(r.stdout) as { nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[] }).nftables;
    let total = 0;
    for (const o of objects) for (const e of o.rule?.expr ?? []) total += e.counter?.packets ?? 0;
    return total;
  }

  /** Starts a background process in a host; stopped by teardown. */
  background(host: string, argv: string[]): BackgroundProcess {
    const p = startBackground(this.ns(host), argv);
    this.processes.push(p);
    return p;
  }

  /** Stops processes and deletes every namespace (their veths go with them). */
  async teardown(): Promise<void> {
    await Promise.all(this.processes.splice(0).map((p) => p.stop()));
    for (const ns of this.namespaces.splice(0)) {
      // whatever still runs in the namespace (a forked socat child whose peer vanished, a stray probe) goes with it:
      // `ip netns del` only unlinks the name, and such a process would live on in the orphaned namespace
      const pids = await runProcess(["ip", "netns", "pids", ns], { allowFailure: true });
      for (const pid of pids.stdout.split("\n").map(Number).filter((n) => n > 0)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      await runProcess(["ip", "netns", "del", ns], { allowFailure: true });
    }
  }
}
