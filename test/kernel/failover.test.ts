/**
 * Failover as a process (issue 11): `symroute run` on seed 004's host with
 * health checks on both uplinks and an outbound policy (isp1 tier 1, isp2 tier
 * 2). isp1 silently drops everything (its link stays up): the daemon marks it
 * down, new LAN connections leave by isp2, only isp1's connections are deleted
 * from conntrack, a connection that came in by isp2 keeps working; when isp1
 * answers again it comes back after the hold time.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { callDaemon } from "../../src/daemon/client.js";
import { Lab } from "../../src/lab/lab.js";
import { buildUplinks, UPLINKS } from "../../src/lab/uplinks.js";
import { cli, configFile, isRoot, killDaemon, startDaemon, type CliRun } from "../helpers/kernel.js";

const TARGET = "100.100.0.1";
const PORT = 9998;
const CONFIG = `version: 1
uplinks:
  - name: isp1
    interface: eth1
    gateway: 203.0.113.1
    tier: 1
    check: { targets: [203.0.113.1, ${TARGET}], hold: 2s }
  - name: isp2
    interface: eth2
    gateway: 192.0.2.1
    tier: 2
    check: { targets: [192.0.2.1, ${TARGET}], hold: 2s }
outbound:
  - name: lan
    from: [10.10.0.0/24]
daemon:
  metrics: "off"
`;

/** The daemon's answer to GET `path` over its socket (the CLI's own client). */
async function get(path: string, netns: string): Promise<Record<string, unknown>> {
  const answer = await callDaemon("GET", path, netns);
  if (!answer) throw new Error(`no daemon answers for ${netns}`);
  return answer.body;
}

describe.skipIf(!isRoot)("failover through the daemon", () => {
  const lab = new Lab("fo");
  let daemon: CliRun | undefined;
  const file = configFile(CONFIG, "failover.yaml");
  const connect = async () => (await lab.exec("lan", ["socat", "-u", "/dev/null", `TCP:${TARGET}:${PORT},connect-timeout=0.25`], undefined, true)).code === 0;

  beforeAll(async () => {
    await buildUplinks(lab);
    for (const isp of ["isp1", "isp2"]) {
      await lab.addr(isp, "lo", `${TARGET}/32`);
      lab.background(isp, ["socat", `TCP-LISTEN:${PORT},bind=${TARGET},fork,reuseaddr`, "EXEC:cat"]);
    }
    daemon = await startDaemon([file, "--netns", lab.ns("host")]);
  });
  afterAll(async () => {
    killDaemon(daemon);
    cli(["destroy", "--netns", lab.ns("host")]);
    await lab.teardown();
  });

  it("a silent isp1: down in under a second, new connections by isp2, only isp1's connections deleted, isp2's kept; back after hold", async () => {
    const ns = lab.ns("host");
    // settle: both uplinks up, a LAN connection works (by isp1, tier 1)
    for (let i = 0; i < 100 && !(await connect()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await connect()).toBe(true);
    // a long-lived connection that came in by isp2: its echo must survive the failover
    const held = spawn("ip", ["netns", "exec", lab.ns("client2"), "socat", "-", `TCP:${UPLINKS.host.isp2.v4}:${UPLINKS.port}`], { stdio: ["pipe", "pipe", "ignore"] });
    let echoed = "";
    held.stdout!.on("data", (d: Buffer) => (echoed += d.toString()));
    held.stdin!.write("before\n");
    for (let i = 0; i < 40 && !echoed.includes("before"); i++) await new Promise((r) => setTimeout(r, 25));
    expect(echoed).toContain("before");
    // the ISP stops forwarding: everything from the host is dropped, the link stays up
    const t0 = Date.now();
    await lab.nft("isp1", [
      { add: { table: { family: "inet", name: "cut" } } },
      { add: { chain: { family: "inet", table: "cut", name: "in", type: "filter", hook: "prerouting", prio: -400, policy: "accept" } } },
      { add: { rule: { family: "inet", table: "cut", chain: "in", expr: [{ match: { op: "==", left: { meta: { key: "iifname" } }, right: "tohost" } }, { drop: null }] } } },
    ]);
    let firstOk = 0;
    for (let i = 0; i < 200; i++) {
      if (await connect()) {
        firstOk = Date.now() - t0;
        break;
      }
    }
    expect(firstOk, "a new LAN connection after the cut").toBeGreaterThan(0);
    console.log(`failover: first new connection ${firstOk} ms after the cut`);
    expect(firstOk).toBeLessThan(3000);
    const status = await get("/v1/status", ns);
    const d = status.daemon as { uplinksDown: string[]; failovers: { uplink: string; to: string; connectionsDeleted: number | null }[] };
    expect(d.uplinksDown).toEqual(["isp1"]);
    const fo = d.failovers.find((f) => f.uplink === "isp1" && f.to === "down");
    expect(fo?.connectionsDeleted).toBeGreaterThanOrEqual(1);
    // the connection on isp2 still echoes
    held.stdin!.write("after\n");
    for (let i = 0; i < 40 && !echoed.includes("after"); i++) await new Promise((r) => setTimeout(r, 25));
    expect(echoed).toContain("after");
    held.kill();
    const uplinks = (await get("/v1/uplinks", ns)).uplinks as { name: string; health: { state: string } | null }[];
    expect(uplinks.find((u) => u.name === "isp1")?.health?.state).toBe("down");
    // isp1 answers again: up only after the 2 s hold, then new connections use it again
    const t1 = Date.now();
    await lab.exec("isp1", ["nft", "delete", "table", "inet", "cut"]);
    for (let i = 0; i < 200; i++) {
      const up = ((await get("/v1/status", ns)).daemon as { uplinksDown: string[] }).uplinksDown.length === 0;
      if (up) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const back = Date.now() - t1;
    console.log(`recovery: isp1 up ${back} ms after it answered again (hold 2 s)`);
    expect(back).toBeGreaterThanOrEqual(1500);
    expect(back).toBeLessThan(6000);
    expect(daemon!.output()).toContain('"msg":"uplink down"');
    expect(daemon!.output()).toContain('"msg":"uplink up"');
  });
});
