/**
 * Real etcd members for the fleet's tests (issue 20): a 3-member cluster, one
 * member per network namespace (names start with "hz"), joined by a bridge in
 * a hub namespace, each with its own data directory under a temp dir and
 * `--enable-v2=false`. The test process lives in the host's namespace, so each
 * member's client port is forwarded from a loopback port by socat (which
 * enters the namespace for each connection): the tests' traffic goes only to
 * loopback and to addresses inside these namespaces. With `tls`, openssl makes
 * a CA, a server certificate per member (its namespace address and 127.0.0.1
 * in subjectAltName) and a client certificate, and members require it.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab } from "../../src/lab/lab.js";
import type { FleetEvent } from "../../src/fleet/watch.js";

/** One member: its namespace, address, loopback endpoint and process. */
export interface EtcdMember {
  name: string;
  host: string;
  address: string;
  /** the URL the test process uses (loopback, forwarded into the namespace) */
  endpoint: string;
  process: ChildProcess | null;
}

/** Client TLS files, when the cluster runs with TLS. */
export interface ClientTls {
  ca: string;
  cert: string;
  key: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (a && typeof a === "object" ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

function openssl(dir: string, args: string[]): void {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

/** A CA, one server certificate per address, and a client certificate, in `dir`. */
function makeCertificates(dir: string, addresses: string[]): ClientTls {
  openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=hz-test-ca", "-keyout", "ca.key", "-out", "ca.pem"]);
  const sign = (name: string, san: string | null, usage: string) => {
    openssl(dir, ["req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${name}`, "-keyout", `${name}.key`, "-out", `${name}.csr`]);
    writeFileSync(join(dir, `${name}.ext`), `${san ? `subjectAltName=${san}\n` : ""}extendedKeyUsage=${usage}\n`);
    openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1", "-extfile", `${name}.ext`, "-out", `${name}.pem`]);
  };
  addresses.forEach((a, i) => sign(`m${i}`, `IP:${a},IP:127.0.0.1`, "serverAuth,clientAuth"));
  sign("client", null, "clientAuth");
  return { ca: join(dir, "ca.pem"), cert: join(dir, "client.pem"), key: join(dir, "client.key") };
}

/** A 3-member etcd cluster in namespaces; `stop()` removes everything it made. */
export class EtcdCluster {
  readonly lab: Lab;
  /** the temp dir of data, logs and certificates: made by start(), so a cluster of a skipped test leaves none */
  dir = "";
  readonly members: EtcdMember[] = [];
  clientTls: ClientTls | undefined;
  private forwarders: ChildProcess[] = [];
  private readonly subnet: string;

  constructor(
    tag: string,
    private readonly tls = false,
  ) {
    this.lab = new Lab(tag, "hz");
    // one subnet per cluster: the namespaces are private, this only keeps logs readable
    this.subnet = `10.${77 + (process.pid % 50)}.${(process.pid >> 6) % 250}`;
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.endpoint);
  }

  private scheme(): string {
    return this.tls ? "https" : "http";
  }

  /** Builds the namespaces, the certificates and starts the three members; resolves once all answer. */
  async start(): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), "hz-etcd-"));
    await this.lab.addHosts("hub", "e0", "e1", "e2");
    await this.lab.exec("hub", ["ip", "link", "add", "br0", "type", "bridge"]);
    await this.lab.exec("hub", ["ip", "link", "set", "br0", "up"]);
    for (let i = 0; i < 3; i++) {
      const host = `e${i}`;
      await this.lab.link(host, "eth0", "hub", `p${i}`);
      await this.lab.exec("hub", ["ip", "link", "set", `p${i}`, "master", "br0"]);
      const address = `${this.subnet}.${i + 1}`;
      await this.lab.addr(host, "eth0", `${address}/24`);
      this.members.push({ name: `m${i}`, host, address, endpoint: `${this.scheme()}://127.0.0.1:${await freePort()}`, process: null });
    }
    if (this.tls) this.clientTls = makeCertificates(this.dir, this.members.map((m) => m.address));
    for (const m of this.members) this.forward(m);
    for (const m of this.members) this.startMember(m, "new");
    await this.waitHealthy();
  }

  /** Loopback port to the member's client port inside its namespace. */
  private forward(m: EtcdMember): void {
    const port = new URL(m.endpoint).port;
    const inner = `EXEC:ip netns exec ${this.lab.ns(m.host)} socat STDIO TCP\\:${m.address}\\:2379`;
    const p = spawn("socat", [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, inner], { stdio: "ignore" });
    p.on("error", () => undefined);
    this.forwarders.push(p);
  }

  /** Starts (or restarts, on its data) one member. */
  startMember(m: EtcdMember, state: "new" | "existing" = "existing"): void {
    const s = this.scheme();
    const cluster = this.members.map((x) => `${x.name}=${s}://${x.address}:2380`).join(",");
    const tlsArgs = this.tls
      ? ["--cert-file", join(this.dir, `${m.name}.pem`), "--key-file", join(this.dir, `${m.name}.key`), "--trusted-ca-file", join(this.dir, "ca.pem"), "--client-cert-auth",
         "--peer-cert-file", join(this.dir, `${m.name}.pem`), "--peer-key-file", join(this.dir, `${m.name}.key`), "--peer-trusted-ca-file", join(this.dir, "ca.pem"), "--peer-client-cert-auth"]
      : [];
    const args = [
      "etcd", "--name", m.name, "--data-dir", join(this.dir, m.name), "--enable-v2=false",
      "--listen-client-urls", `${s}://${m.address}:2379`, "--advertise-client-urls", `${s}://${m.address}:2379`,
      "--listen-peer-urls", `${s}://${m.address}:2380`, "--initial-advertise-peer-urls", `${s}://${m.address}:2380`,
      "--initial-cluster", cluster, "--initial-cluster-state", state, "--initial-cluster-token", this.lab.prefix,
      "--heartbeat-interval", "50", "--election-timeout", "500", ...tlsArgs,
    ];
    const log = openSync(join(this.dir, `${m.name}.log`), "a");
    const p = spawn("ip", ["netns", "exec", this.lab.ns(m.host), ...args], { stdio: ["ignore", log, log] });
    p.on("error", () => undefined);
    m.process = p;
  }

  /** Kills one member at once (SIGKILL): its connections die with it. */
  async kill(m: EtcdMember): Promise<void> {
    const p = m.process;
    m.process = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      p.kill("SIGKILL");
    });
  }

  /** Waits until every running member answers a status request (through its forwarder). */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const { EtcdClient } = await import("../../src/fleet/etcd.js");
    for (const m of this.members.filter((x) => x.process)) {
      const c = new EtcdClient({ endpoints: [m.endpoint], tls: this.clientTls, timeoutMs: 1000 });
      try {
        for (;;) {
          try {
            const s = await c.status();
            if (s.leader !== "0") break;
          } catch {
            // not up yet
          }
          if (Date.now() > deadline) throw new Error(`etcd member ${m.name} did not come up; see ${join(this.dir, `${m.name}.log`)}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      } finally {
        c.close();
      }
    }
  }

  /** Stops every member and forwarder, deletes the namespaces and the data. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill(m)));
    for (const f of this.forwarders.splice(0)) f.kill("SIGKILL");
    await this.lab.teardown();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Collects a watcher's events and waits for one. */
export class Events {
  readonly all: FleetEvent[] = [];
  private waiters: (() => void)[] = [];
  push = (e: FleetEvent) => {
    this.all.push(e);
    for (const w of this.waiters.splice(0)) w();
  };
  async waitFor(pred: (e: FleetEvent) => boolean, timeoutMs = 10_000): Promise<FleetEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.all.find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no such event within ${timeoutMs} ms; saw ${this.all.map((e) => e.type).join(",")}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => (clearTimeout(t), r()));
      });
    }
  }
}
