/**
 * Load-balancer targets that come and go (issue 12), on the load-balancer lab
 * (src/lab/loadBalancer.ts: tg -> gw -> fe -> four targets) with `symroute run`
 * as a process. All figures from one run, printed as tables:
 *  1. detection: a target's host drops everything (an nft input drop table in
 *     its namespace) -> the daemon's GET /v1/status lists it in targetsDown,
 *     and -> the kernel's Maglev map holds no entry of its chain; p50/p95 over
 *     BT_KILLS (20) kills, tcp check with default settings (250 ms, down 3, up 2),
 *     the target brought back and waited up between kills; goal < 1.5 s;
 *  2. established flows of healthy targets moved by a target add (registered
 *     through the API), a remove and a failure, for maglev, stable and
 *     maglev + flowMemory: 400 TCP flows probed from fixed source ports before
 *     and after each change;
 *  3. flow memory against the stateless path, BT_ROUNDS (3) alternating rounds of
 *     BT_SECS (2) s per measure: 64-byte UDP frames (18-byte payload) per second (bench/targetsLoad.c blasting from 512 source ports, counted
 *     by an nft counter in each target's prerouting), one full-size TCP stream
 *     (bytes in BT_SECS), TCP connection setups/s (connect, server's reset);
 *     and kernel memory per remembered flow (Slab before and after 100,000
 *     elements loaded into one set with nft -f);
 *  4. registrations/s through `symroute lb target add` and through the API
 *     (16 concurrent requests), up to 1000 leased targets (maglev size 65537,
 *     allocate.tables/priorities 1000-2999 or BT_ALLOCATE; BT_REGISTER_BUDGET_MS (60 s) caps the API phase),
 *     then the daemon's CPU (/proc/PID/stat, children included) and RSS over
 *     BT_IDLE_S (20 s) idle without renewals and with one renewal round of all
 *     leases (every 20 s), and the time of that round.
 * Needs root, gcc and a built CLI (`npm run -s build`). Namespaces srbt*,
 * removed at the end and on failure. Run with `npx tsx bench/targets.ts`.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { callDaemon } from "../src/daemon/client.js";
import { targetChain } from "../src/compile/loadBalancers.js";
import { Lab } from "../src/lab/lab.js";
import { buildLoadBalancer, LB, probe, targetHost } from "../src/lab/loadBalancer.js";
import { cli, configFile, killDaemon, startDaemon, type CliRun } from "../test/helpers/kernel.js";

const KILLS = Number(process.env.BT_KILLS ?? 20);
const SECS = Number(process.env.BT_SECS ?? 2);
const ROUNDS = Number(process.env.BT_ROUNDS ?? 3);
const IDLE_S = Number(process.env.BT_IDLE_S ?? 20);
const REGISTER = Number(process.env.BT_REGISTER ?? 1000);
const REGISTER_CLI = 20;
const REGISTER_BUDGET_MS = Number(process.env.BT_REGISTER_BUDGET_MS ?? 60_000);
const FILL = 100_000;
const ONLY = (process.env.BT_ONLY ?? "1234").split("");
const CHECK_PORT = 4001;
const SINK_PORT = 4002;
const CLOSER_PORT = 4003;
const BLAST_PORT = 5005;
const LB_NAME = "stream-a";
const CLK_TCK = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const work = mkdtempSync(join(tmpdir(), "symroute-bt-"));
const loadBin = join(work, "targetsLoad");

interface Opts {
  files?: string[];
  assignment?: "maglev" | "stable";
  memory?: number;
  check?: boolean;
  registration?: string;
  maglevSize?: number;
  /** wider rule and table ranges than the default 1000 (for 1000 registered targets) */
  wide?: boolean;
}

/** The bench's config: IPv4 VIP, the example's flows plus the load ports (4002-4003). */
function config(o: Opts): string {
  const files = LB.targets.filter((t) => (o.files ?? LB.targets.map((x) => x.name)).includes(t.name));
  const lines = [
    "version: 1",
    "loadBalancers:",
    `  - name: ${LB_NAME}`,
    `    vips: [${LB.vip4}]`,
    `    assignment: ${o.assignment ?? "maglev"}`,
    ...(o.memory ? [`    flowMemory: { timeout: 120s, size: ${o.memory} }`] : []),
    ...(o.registration ? [`    registration: ${o.registration}`] : []),
    ...(o.maglevSize ? [`    maglev: { size: ${o.maglevSize} }`] : []),
    "    flows:",
    '      - { name: tcp-4000, priority: 1, protocols: [tcp], destinationPorts: ["4000"] }',
    '      - { name: udp-5000, priority: 2, protocols: [udp], destinationPorts: ["5000-5010"] }',
    '      - { name: load, priority: 3, protocols: [tcp], destinationPorts: ["4002-4003"] }',
    "    targets:",
    ...files.map((t) => `      - { name: ${t.name}, via: ${t.v4}, interface: conduit-${t.conduit}${o.check ? `, check: { tcp: ${CHECK_PORT} }` : ""} }`),
    "    egress: { gateway: 169.254.100.150, interface: ext-vlan0, table: 4096 }",
    ...(o.wide ? [`allocate: ${process.env.BT_ALLOCATE ?? '{ tables: "1000-2999", priorities: "1000-2999" }'}`] : []),
    "daemon:",
    '  metrics: "off"',
    "",
  ];
  return lines.join("\n");
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
}

function table(title: string, head: string[], rows: string[][]): void {
  const w = head.map((_, i) => Math.max(...[head, ...rows].map((r) => (r[i] ?? "").length)));
  console.log(`\n${title}`);
  for (const r of [head, ...rows]) console.log("  " + r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  "));
}

/** Polls `check` every `everyMs` until true; ms since `t0`, or null after `limitMs`. */
async function until(check: () => Promise<boolean> | boolean, t0: number, limitMs: number, everyMs = 10): Promise<number | null> {
  while (performance.now() - t0 < limitMs) {
    if (await check()) return Math.round(performance.now() - t0);
    await sleep(everyMs);
  }
  return null;
}

async function main(): Promise<void> {
  const lab = new Lab("bt");
  const ns = () => lab.ns("fe");
  let daemon: CliRun | undefined;
  const onSignal = () => {
    killDaemon(daemon);
    void lab.teardown().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const load0 = loadavg();
  const t00 = performance.now();
  console.log(`load average at start: ${load0.map((x) => x.toFixed(2)).join(" ")}`);

  const cc = spawnSync("cc", ["-O2", "-o", loadBin, join(import.meta.dirname, "targetsLoad.c")], { encoding: "utf8" });
  if (cc.status !== 0) throw new Error(`cc: ${cc.stderr}`);

  const api = async (method: "GET" | "POST" | "DELETE", path: string, body?: unknown) => {
    const a = await callDaemon(method, path, ns(), 60_000, body);
    if (!a) throw new Error(`no daemon answers ${method} ${path}`);
    return a;
  };
  const down = async () => ((await api("GET", "/v1/status")).body.daemon as { targetsDown: string[] }).targetsDown;
  /** Entries of a target's chain in the kernel's Maglev maps (every map of lb0). */
  const kernelEntries = async (target: string): Promise<number> => {
    const r = await lab.exec("fe", ["nft", "-j", "list", "table", "inet", "symroute"]);
    const chain = targetChain("lb0", target);
    let n = 0;
    for (const o of (JSON.parse(r.stdout) as { nftables: { map?: { name: string; elem?: unknown[] } }[] }).nftables)
      if (o.map?.elem) for (const e of o.map.elem) if (JSON.stringify(e).includes(chain)) n++;
    return n;
  };
  const kill = (name: string) =>
    lab.nft(targetHost(name), [
      { add: { table: { family: "inet", name: "dead" } } },
      { add: { chain: { family: "inet", table: "dead", name: "in", type: "filter", hook: "input", prio: -400, policy: "drop" } } },
    ]);
  const revive = (name: string) => lab.exec(targetHost(name), ["nft", "delete", "table", "inet", "dead"]);
  const stopDaemon = async () => {
    if (daemon) {
      killDaemon(daemon);
      await daemon.done;
      daemon = undefined;
    }
    cli(["destroy", "--netns", ns()]);
  };
  const start = async (text: string, name: string) => {
    await stopDaemon();
    daemon = await startDaemon([configFile(text, name), "--netns", ns()]);
  };

  try {
    console.log(`building ${lab.prefix}-*`);
    await buildLoadBalancer(lab);
    await lab.exec("tg", ["sysctl", "-q", "-w", "net/ipv4/ip_local_port_range=10000 65000"]);
    for (const t of LB.targets) {
      const h = targetHost(t.name);
      lab.background(h, ["socat", `TCP-LISTEN:${CHECK_PORT},bind=${t.v4},fork,reuseaddr`, "EXEC:cat"]);
      lab.background(h, [loadBin, "sink", String(SINK_PORT)]);
      lab.background(h, [loadBin, "closer", String(CLOSER_PORT)]);
      // the blast's datagrams end here: counted and dropped before any socket
      await lab.nft(h, [
        { add: { table: { family: "inet", name: "blast" } } },
        { add: { chain: { family: "inet", table: "blast", name: "pre", type: "filter", hook: "prerouting", prio: -300, policy: "accept" } } },
        {
          add: {
            rule: {
              family: "inet", table: "blast", chain: "pre",
              expr: [{ match: { op: "==", left: { payload: { protocol: "udp", field: "dport" } }, right: BLAST_PORT } }, { counter: null }, { drop: null }],
            },
          },
        },
      ]);
    }

    // ------------------------------------------------------------ 1. detection
    if (ONLY.includes("1")) {
      await start(config({ check: true }), "detect.yaml");
      if ((await until(async () => (await down()).length === 0 && (await kernelEntries("target-d")) > 0, performance.now(), 10_000, 50)) === null) throw new Error("targets not up");
      await sleep(600);
      const apiMs: number[] = [];
      const kernMs: number[] = [];
      const backMs: number[] = [];
      let missed = 0;
      for (let k = 0; k < KILLS; k++) {
        const name = LB.targets[k % LB.targets.length].name;
        const t0 = performance.now();
        await kill(name);
        const [a, kk] = await Promise.all([
          until(async () => (await down()).includes(`${LB_NAME}/${name}`), t0, 5000),
          until(async () => (await kernelEntries(name)) === 0, t0, 5000),
        ]);
        if (a === null || kk === null) missed++;
        if (a !== null) apiMs.push(a);
        if (kk !== null) kernMs.push(kk);
        const t1 = performance.now();
        await revive(name);
        const b = await until(async () => !(await down()).includes(`${LB_NAME}/${name}`) && (await kernelEntries(name)) > 0, t1, 10_000, 20);
        if (b !== null) backMs.push(b);
        console.log(`kill ${k + 1} (${name}): API ${a ?? "-"} ms, kernel map ${kk ?? "-"} ms, back in the map ${b ?? "-"} ms after revival`);
        await sleep(300 + Math.random() * 250); // a random phase against the check's interval
      }
      table("1. detection: host drops everything -> out of the table (tcp check, interval 250ms, down 3, up 2)", ["measure", "p50 ms", "p95 ms", "max ms", "n", "goal"], [
        ["death -> targetsDown in GET /v1/status", String(pct(apiMs, 50)), String(pct(apiMs, 95)), String(Math.max(...apiMs)), `${apiMs.length}/${KILLS}`, pct(apiMs, 95) < 1500 ? "<1500 met" : "<1500 NOT met"],
        ["death -> no entry in the kernel's Maglev map", String(pct(kernMs, 50)), String(pct(kernMs, 95)), String(Math.max(...kernMs)), `${kernMs.length}/${KILLS}`, pct(kernMs, 95) < 1500 ? "<1500 met" : "<1500 NOT met"],
        ["revival -> back in the kernel's map", String(pct(backMs, 50)), String(pct(backMs, 95)), String(Math.max(...backMs)), `${backMs.length}/${KILLS}`, "-"],
      ]);
      if (missed) console.log(`  ${missed} kills not seen within 5 s`);
    }

    // ------------------------------------------------------------ 2. flows moved
    if (ONLY.includes("2")) {
      const modes: [string, Opts][] = [
        ["maglev", {}],
        ["stable", { assignment: "stable" }],
        ["maglev + flowMemory", { memory: 65536 }],
      ];
      const rows: string[][] = [];
      const s1 = Array.from({ length: 400 }, (_, i) => 30000 + i * 3);
      const s2 = s1.map((p) => p + 1);
      const s3 = s1.map((p) => p + 2);
      const P = (sports: number[]) => probe(lab, { vip: LB.vip4, port: LB.tcpPort, sports });
      const d = LB.targets[3];
      for (const [label, o] of modes) {
        await start(config({ ...o, files: ["target-a", "target-b", "target-c"], check: true, registration: "{ lease: 300s }" }), `moved-${rows.length}.yaml`);
        await until(async () => (await down()).length === 0, performance.now(), 5000, 50);
        await sleep(600);
        // add: target-d registered through the API
        const b1 = await P(s1);
        const reg = await api("POST", `/v1/balancers/${LB_NAME}/targets`, { name: d.name, via: d.v4, interface: `conduit-${d.conduit}`, check: { tcp: CHECK_PORT } });
        if (reg.status >= 300) throw new Error(`register: ${JSON.stringify(reg.body)}`);
        await until(async () => (await kernelEntries(d.name)) > 0, performance.now(), 5000, 20);
        await sleep(300);
        const a1 = await P(s1);
        const moved1 = b1.filter((b, i) => b !== null && a1[i] !== b).length;
        const add = `${moved1} (${b1.filter((b, i) => b !== null && a1[i] !== b && a1[i] === d.name).length} to ${d.name})`;
        // remove: target-d deregistered (its own flows excluded)
        const b2 = await P(s2);
        await api("DELETE", `/v1/balancers/${LB_NAME}/targets/${d.name}`);
        await until(async () => (await kernelEntries(d.name)) === 0, performance.now(), 5000, 20);
        const a2 = await P(s2);
        const moved2 = b2.filter((b, i) => b !== null && b !== d.name && a2[i] !== b).length;
        // failure: target-c's host dies (its own flows excluded)
        const b3 = await P(s3);
        const t0 = performance.now();
        await kill("target-c");
        await until(async () => (await down()).includes(`${LB_NAME}/target-c`) && (await kernelEntries("target-c")) === 0, t0, 5000, 20);
        const a3 = await P(s3);
        const moved3 = b3.filter((b, i) => b !== null && b !== "target-c" && a3[i] !== b).length;
        const unanswered = [b1, a1, b2, a2, b3].reduce((n, r) => n + r.filter((x) => x === null).length, 0) + a3.filter((x, i) => x === null && b3[i] !== "target-c").length;
        await revive("target-c");
        await until(async () => (await down()).length === 0, performance.now(), 5000, 50);
        rows.push([label, add, String(moved2), String(moved3), String(unanswered)]);
        console.log(`moved, ${label}: add ${add}, remove ${moved2}, failure ${moved3}`);
      }
      table("2. established flows of healthy targets moved (of 400 TCP flows, fixed source ports; own flows of the removed/failed target excluded)", ["assignment", "add target-d", "remove target-d", "target-c fails", "unanswered"], rows);
      await stopDaemon();
    }

    // ------------------------------------------------------------ 3. cost of flow memory
    if (ONLY.includes("3")) {
      await stopDaemon();
      const apply = (text: string, name: string) => {
        const r = cli(["apply", configFile(text, name), "--netns", ns()]);
        if (r.code !== 0) throw new Error(`apply: ${r.stderr}${r.stdout}`);
      };
      const received = async () => {
        let n = 0;
        for (const t of LB.targets) n += await lab.counted(targetHost(t.name), "inet", "blast");
        return n;
      };
      const runLoad = async (args: string[]) => (await lab.exec("tg", [loadBin, ...args])).stdout.trim().split(/\s+/).map(Number);
      const res: Record<string, { udp: number[]; sent: number[]; tcp: number[]; conn: number[]; connBad: number[] }> = {
        stateless: { udp: [], sent: [], tcp: [], conn: [], connBad: [] },
        memory: { udp: [], sent: [], tcp: [], conn: [], connBad: [] },
      };
      for (let r = 0; r < ROUNDS; r++) {
        for (const mode of r % 2 === 0 ? ["stateless", "memory"] : ["memory", "stateless"]) {
          apply(config({ memory: mode === "memory" ? 131072 : undefined }), `cost-${mode}.yaml`);
          await sleep(300);
          const c0 = await received();
          const [sent] = await runLoad(["udp", LB.vip4, String(BLAST_PORT), "512", "40000", "18", String(SECS), "2"]);
          await sleep(200);
          const got = (await received()) - c0;
          res[mode].udp.push(got / SECS);
          res[mode].sent.push(sent / SECS);
          const [bytes] = await runLoad(["tcp", LB.vip4, String(SINK_PORT), "33333", String(SECS)]);
          res[mode].tcp.push((bytes * 8) / SECS / 1e9);
          const [ok, bad] = await runLoad(["conn", LB.vip4, String(CLOSER_PORT), String(SECS), "4"]);
          res[mode].conn.push(ok / SECS);
          res[mode].connBad.push(bad);
          console.log(`round ${r + 1} ${mode}: udp ${Math.round(got / SECS)}/s received (${Math.round(sent / SECS)}/s sent), tcp ${((bytes * 8) / SECS / 1e9).toFixed(2)} Gbit/s, ${Math.round(ok / SECS)} connections/s (${bad} failed)`);
        }
      }
      const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const row = (label: string, key: "udp" | "sent" | "tcp" | "conn", fmt: (x: number) => string) => {
        const s = avg(res.stateless[key]);
        const m = avg(res.memory[key]);
        return [label, fmt(s), fmt(m), (m / s).toFixed(3)];
      };
      const int = (x: number) => Math.round(x).toLocaleString("en-US");
      // memory per remembered flow: FILL elements loaded into target-a's IPv4 set
      const set = `${targetChain("lb0", "target-a")}_f4`;
      const slab = () => {
        const m = readFileSync("/proc/meminfo", "utf8");
        return Number(/^Slab:\s+(\d+)/m.exec(m)![1]) * 1024;
      };
      apply(config({ memory: 131072 }), "fill.yaml");
      const files: string[] = [];
      for (let i = 0; i < FILL; i += 25_000) {
        const lines: string[] = [];
        for (let j = i; j < Math.min(FILL, i + 25_000); j++) lines.push(`10.${(j >> 16) & 255}.${(j >> 8) & 255}.${j & 255} . ${LB.vip4} . ${1024 + (j % 60000)} . ${LB.tcpPort}`);
        const f = join(work, `fill-${i}.nft`);
        writeFileSync(f, `add element inet symroute ${set} { ${lines.join(", ")} }\n`);
        files.push(f);
      }
      await sleep(500);
      const m0 = slab();
      const tf = performance.now();
      for (const f of files) await lab.exec("fe", ["nft", "-f", f]);
      const fillMs = performance.now() - tf;
      await sleep(1000);
      const m1 = slab();
      await lab.exec("fe", ["nft", "flush", "set", "inet", "symroute", set]);
      await sleep(1500);
      const m2 = slab();
      table(`3. flow memory against the stateless path (${ROUNDS} alternating rounds of ${SECS} s each, means)`, ["measure", "stateless", "flowMemory", "memory/stateless"], [
        row("UDP 64-byte datagrams/s received at the targets (512 flows)", "udp", int),
        row("  sent by tg (2 processes)", "sent", int),
        row("TCP throughput, one stream, Gbit/s", "tcp", (x) => x.toFixed(2)),
        row("TCP connection setups/s (4 clients)", "conn", int),
      ]);
      console.log(`  failed connections: stateless ${res.stateless.connBad.join("+")}, memory ${res.memory.connBad.join("+")}`);
      table("   kernel memory per remembered flow (one IPv4 set, /proc/meminfo Slab)", ["measure", "value"], [
        [`Slab growth after ${FILL.toLocaleString("en-US")} elements (nft -f, ${files.length} batches, ${Math.round(fillMs)} ms)`, `${((m1 - m0) / 1048576).toFixed(1)} MiB`],
        ["  bytes per flow", String(Math.round((m1 - m0) / FILL))],
        ["Slab freed by flushing the set", `${((m1 - m2) / 1048576).toFixed(1)} MiB`],
        ["  bytes per flow", String(Math.round((m1 - m2) / FILL))],
      ]);
      cli(["destroy", "--netns", ns()]);
    }

    // ------------------------------------------------------------ 4. registration
    if (ONLY.includes("4")) {
      // a /20 on conduit-a for the registered targets' next hops (they need not answer)
      await lab.addr("fe", "conduit-a", "10.64.0.1/20");
      await start(config({ registration: "{ lease: 60s, maxTargets: 1024 }", maglevSize: 65537, wide: true }), "registration.yaml");
      const pid = daemon!.child.pid!;
      const via = (i: number) => `10.64.${(i + 2) >> 8}.${(i + 2) & 255}`;
      const name = (i: number) => `r${String(i).padStart(4, "0")}`;
      const tc = performance.now();
      let cliOk = 0;
      for (let i = 0; i < REGISTER_CLI; i++) {
        const r = cli(["lb", "target", "add", LB_NAME, name(i), "--via", via(i), "--interface", "conduit-a", "--lease", "60s", "--netns", ns()]);
        if (r.code === 0) cliOk++;
        else console.log(`cli add ${name(i)}: ${r.stderr.trim()}`);
      }
      const cliMs = performance.now() - tc;
      const ta = performance.now();
      let next = REGISTER_CLI;
      let apiOk = 0;
      let apiFail = 0;
      const lat: number[] = [];
      const worker = async () => {
        while (next < REGISTER && performance.now() - ta < REGISTER_BUDGET_MS) {
          const i = next++;
          const t = performance.now();
          const a = await api("POST", `/v1/balancers/${LB_NAME}/targets`, { name: name(i), via: via(i), interface: "conduit-a", lease: "60s" });
          lat.push(performance.now() - t);
          if (a.status < 300) apiOk++;
          else if (apiFail++ < 3) console.log(`api add ${name(i)}: ${a.status} ${JSON.stringify(a.body).slice(0, 300)}`);
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      const apiMs = performance.now() - ta;
      const registered = cliOk + apiOk;
      const inKernel = (await lab.exec("fe", ["ip", "-4", "rule", "show"])).stdout.split("\n").filter((l) => l.includes("fwmark")).length;
      const renewRound = async () => {
        const t = performance.now();
        let i = 0;
        const w = async () => {
          while (i < registered) {
            const k = i++;
            await api("POST", `/v1/balancers/${LB_NAME}/targets/${name(k)}/renew`);
          }
        };
        await Promise.all(Array.from({ length: 16 }, w));
        return performance.now() - t;
      };
      const cpu = () => {
        const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
        // fields 14-17 of stat (utime stime cutime cstime) are 12-15 after the name
        return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
      };
      const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
      const first = await renewRound(); // every lease fresh before the windows
      await sleep(1000);
      const idle = async (renew: boolean) => {
        const c0 = cpu();
        const t0 = performance.now();
        let round = NaN;
        if (renew) round = await renewRound();
        await sleep(IDLE_S * 1000 - (performance.now() - t0));
        return { cpu: ((cpu() - c0) / ((performance.now() - t0) / 1000)) * 100, rss: rss(), round };
      };
      const quiet = await idle(false);
      const renewed = await idle(true);
      table(`4. registration (lease 60s, maxTargets 1024, maglev size 65537)`, ["measure", "value"], [
        [`symroute lb target add (CLI, one at a time): ${cliOk}/${REGISTER_CLI}`, `${((cliOk / cliMs) * 1000).toFixed(1)} targets/s`],
        [`POST /v1/balancers/${LB_NAME}/targets, 16 concurrent: ${apiOk} (${apiFail} refused) in ${(apiMs / 1000).toFixed(1)} s`, `${((apiOk / apiMs) * 1000).toFixed(1)} targets/s`],
        ["  request latency p50 / p95", `${Math.round(pct(lat, 50))} / ${Math.round(pct(lat, 95))} ms`],
        ["targets registered / fwmark rules in the kernel (all)", `${registered} / ${inKernel}`],
        [`idle CPU over ${IDLE_S} s, leases not renewed`, `${quiet.cpu.toFixed(2)}% of a core`],
        [`idle CPU over ${IDLE_S} s, one renewal round (every 20 s)`, `${renewed.cpu.toFixed(2)}% of a core`],
        ["RSS, not renewed / renewed", `${quiet.rss.toFixed(0)} / ${renewed.rss.toFixed(0)} MiB`],
        [`renewal round: ${registered} renewals, 16 concurrent`, `${Math.round(first)} ms, ${Math.round(renewed.round)} ms`],
      ]);
      await stopDaemon();
    }
  } finally {
    await stopDaemon().catch(() => undefined);
    await lab.teardown();
    rmSync(work, { recursive: true, force: true });
  }
  console.log(`\nload average at start: ${load0.map((x) => x.toFixed(2)).join(" ")}; at end: ${loadavg().map((x) => x.toFixed(2)).join(" ")}; ${((performance.now() - t00) / 1000).toFixed(0)} s`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
