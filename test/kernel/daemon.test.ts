/**
 * `symroute run` as a process: started in a namespace, the kernel faulted
 * from outside (a rule deleted, the nft table deleted, a sysctl changed, a
 * link flapped, an address moved, a foreign rule in its range), watched
 * through the kernel, the API (`symroute status`, the socket) and the
 * metrics (promtool checks a scrape); reload with a bad and a good file;
 * SIGTERM leaves the routing in place.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { callDaemon } from "../../src/daemon/client.js";
import { socketPath } from "../../src/daemon/api.js";
import { Lab } from "../../src/lab/lab.js";
import { buildTwoLinkHost, cli, isRoot, killDaemon, startDaemon, TWO_UPLINKS_YAML, type CliRun } from "../helpers/kernel.js";
import { until } from "../helpers/until.js";

const port = 20000 + (process.pid % 20000);
const CONFIG = `${TWO_UPLINKS_YAML}daemon:\n  metrics: 127.0.0.1:${port}\n  reconcileInterval: 30s\n`;

/** The daemon's answer over its socket (the CLI's own client); fails the test when none answers. */
async function get(path: string, netns: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await callDaemon("GET", path, netns);
  if (!answer) throw new Error(`no daemon answers for ${netns}`);
  return answer;
}

describe.skipIf(!isRoot)("symroute run", () => {
  const lab = new Lab("dm");
  let ns = "";
  let daemon: CliRun;
  const log = () => daemon.output();
  const dir = mkdtempSync(join(tmpdir(), "symroute-daemon-"));
  const file = join(dir, "symroute.yaml");
  const sh = async (...argv: string[]) => (await lab.exec("h", argv)).stdout;
  const rules = () => sh("ip", "rule");

  beforeAll(async () => {
    await buildTwoLinkHost(lab);
    ns = lab.ns("h");
    writeFileSync(file, CONFIG);
    daemon = await startDaemon([file, "--netns", ns]);
  });
  afterAll(async () => {
    killDaemon(daemon);
    cli(["destroy", "--netns", ns]);
    await lab.teardown();
  });

  it("applies at start: plan is empty", () => {
    expect(cli(["plan", file, "--netns", ns, "--exit-code"]).code).toBe(0);
  });

  it("repairs a deleted rule, a deleted nft table and a changed sysctl", async () => {
    await sh("ip", "rule", "del", "pref", "1000");
    const rule = await until("rule 1000 back", async () => (await rules()).includes("1000:\tfrom 203.0.113.8 lookup"));
    await sh("nft", "delete", "table", "inet", "symroute");
    const nft = await until("nft table back", async () => (await lab.exec("h", ["nft", "list", "table", "inet", "symroute"], undefined, true)).code === 0);
    await sh("sysctl", "-q", "-w", "net/ipv4/conf/eth2/rp_filter=1");
    const sysctl = await until("rp_filter back to 2", async () => (await sh("cat", "/proc/sys/net/ipv4/conf/eth2/rp_filter")).trim() === "2");
    console.log(`repair latency: rule ${rule} ms, nft table ${nft} ms, sysctl ${sysctl} ms`);
    expect(cli(["plan", file, "--netns", ns, "--exit-code"]).code).toBe(0);
  });

  it("a link flap: the uplink's routes leave with the link and come back with it", async () => {
    await sh("ip", "link", "set", "eth1", "down");
    await until("table of isp1 emptied while down, apply still succeeds", async () => (await sh("ip", "route", "show", "table", "1000")).trim() === "" && log().includes("is down")).catch((e: Error) => {
      throw new Error(`${e.message}\n${log().slice(-3000)}`);
    });
    await sh("ip", "link", "set", "eth1", "up");
    // the kernel drops IPv6 addresses on admin down; a network manager puts them back
    await sh("ip", "addr", "add", "2001:db8:1::8/64", "dev", "eth1", "nodad");
    const back = await until("isp1's default routes back", async () => (await sh("ip", "route", "show", "table", "1000")).includes("default via 203.0.113.1") && (await sh("ip", "-6", "route", "show", "table", "1000")).includes("default via 2001:db8:1::1"));
    console.log(`link flap: routes back ${back} ms after up`);
    expect(cli(["plan", file, "--netns", ns, "--exit-code"]).code).toBe(0);
  });

  it("follows a changed address: the new one gets its rule, the old one's goes", async () => {
    // as a DHCP renew with a new lease does: the new address first, then the old one goes (promoting the new one;
    // without promote_secondaries the kernel would delete the secondary with the primary)
    await sh("sysctl", "-q", "-w", "net/ipv4/conf/eth2/promote_secondaries=1");
    await sh("ip", "addr", "add", "192.0.2.32/24", "dev", "eth2");
    await sh("ip", "addr", "del", "192.0.2.31/24", "dev", "eth2");
    const t = await until("rule for 192.0.2.32 only", async () => {
      const r = await rules();
      return r.includes("from 192.0.2.32 lookup") && !r.includes("from 192.0.2.31 lookup");
    });
    console.log(`address followed in ${t} ms`);
    await sh("ip", "addr", "add", "192.0.2.31/24", "dev", "eth2");
    await sh("ip", "addr", "del", "192.0.2.32/24", "dev", "eth2");
    await until("back to 192.0.2.31", async () => (await rules()).includes("from 192.0.2.31 lookup") && !(await rules()).includes("from 192.0.2.32 lookup"));
  });

  it("a foreign rule in its range is reported as a conflict (API, status, metric), never removed, and repairs go on around it", async () => {
    await sh("ip", "rule", "add", "pref", "1500", "from", "10.99.0.1", "lookup", "main");
    await sh("ip", "rule", "del", "from", "192.0.2.31"); // a fault, so a reconcile runs and meets the foreign rule
    await until("conflict reported", async () => ((await get("/v1/status", ns)).body.daemon as { conflicts: string[] }).conflicts.length > 0);
    expect(await rules()).toContain("1500:\tfrom 10.99.0.1 lookup main");
    const st = cli(["status", "--netns", ns]);
    expect(st.stdout).toContain("Daemon: running");
    expect(st.stdout).toContain("foreign rule in symroute's priority range");
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^symroute_conflicts 1$/m);
    // the foreign rule holds back nothing at its priority: the deleted rule is back, the foreign one stays
    await until("the deleted rule back beside the conflict", async () => (await rules()).includes("from 192.0.2.31 lookup"));
    expect(await rules()).toContain("1500:\tfrom 10.99.0.1 lookup main");
    await sh("ip", "rule", "del", "pref", "1500");
    await until("the conflict gone from the API", async () => ((await get("/v1/status", ns)).body.daemon as { conflicts: string[] }).conflicts.length === 0);
  });

  it("the API answers versioned JSON on its socket (0660): status, plan, uplinks, balancers", async () => {
    expect((spawnSync("stat", ["-c", "%a", socketPath(ns)], { encoding: "utf8" }).stdout ?? "").trim()).toBe("660");
    const status = await get("/v1/status", ns);
    expect(status.status).toBe(200);
    expect(status.body.apiVersion).toBe(1);
    expect((status.body.daemon as { reconciles: { ok: number } }).reconciles.ok).toBeGreaterThan(3);
    expect((status.body.kernel as { owned: { rules: number } }).owned.rules).toBeGreaterThan(0);
    const plan = await get("/v1/plan", ns);
    expect((plan.body.plan as { rules: { add: unknown[] } }).rules.add).toEqual([]);
    const uplinks = await get("/v1/uplinks", ns);
    expect((uplinks.body.uplinks as { name: string }[]).map((u) => u.name)).toEqual(["isp1", "isp2"]);
    expect((await get("/v1/balancers", ns)).body.balancers).toEqual([]);
    expect((await get("/v1/nothing", ns)).status).toBe(404);
  });

  it("metrics: a scrape passes promtool and counts repairs by kind", async (ctx) => {
    const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    for (const name of ["symroute_reconciles_total", "symroute_reconcile_duration_seconds_bucket", "symroute_repairs_total", "symroute_repair_latency_seconds_count", "symroute_owned_objects", "symroute_conflicts", "process_resident_memory_bytes"])
      expect(text).toContain(name);
    expect(Number(/^symroute_repairs_total\{kind="rule"\} (\d+)/m.exec(text)?.[1])).toBeGreaterThanOrEqual(2);
    expect(Number(/^symroute_owned_objects\{kind="rule"\} (\d+)/m.exec(text)?.[1])).toBeGreaterThan(0);
    if (spawnSync("which", ["promtool"]).status !== 0) return ctx.skip("skipped: no promtool (Debian package prometheus)");
    const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout + check.stderr).toBe("");
  });

  it("reload: a bad file is refused with located errors and changes nothing; a good one applies", async () => {
    const before = await rules();
    writeFileSync(file, CONFIG.replace("gateway: 192.0.2.1", "gateway: 192.0.2.999"));
    const bad = cli(["reload", "--netns", ns]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/symroute\.yaml:\d+:\d+: uplinks\[1\]\.gateway/);
    expect(await rules()).toBe(before);
    writeFileSync(file, CONFIG.replace(/services:[\s\S]*?daemon:/, "daemon:"));
    const good = cli(["reload", "--netns", ns]);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toContain("Reloaded");
    expect(cli(["plan", file, "--netns", ns, "--exit-code"]).code).toBe(0);
    // SIGHUP does the same
    writeFileSync(file, CONFIG);
    daemon.child.kill("SIGHUP");
    await until("SIGHUP reload applied the service again", async () => cli(["plan", file, "--netns", ns, "--exit-code"]).code === 0, 3000);
  });

  it("SIGTERM stops the daemon and leaves the routing in place", async () => {
    const before = await rules();
    daemon.child.kill("SIGTERM");
    expect((await daemon.done).code).toBe(0);
    expect(await rules()).toBe(before);
    expect(log()).toContain('"msg":"stopping"');
    // with --destroy-on-exit the objects go with it
    const again = await startDaemon([file, "--netns", ns, "--destroy-on-exit", "--metrics", "off"]);
    again.child.kill("SIGTERM");
    expect((await again.done).code).toBe(0);
    expect(await rules()).not.toContain("lookup 1000");
  });
});
