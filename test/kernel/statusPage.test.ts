/**
 * The daemon's status page (issue 11): `symroute run` on seed 004's host with
 * health checks on both uplinks serves `/` and `/status.json` beside
 * `/metrics`. After a few seconds of history isp1 is cut (its ISP drops
 * everything); /status.json shows isp1 down with its history, and headless
 * Chromium renders the page: isp1 down, isp2 up, plots with points, a
 * screenshot worth looking at. The history's ring buffer is checked without
 * root.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lab } from "../../src/lab/lab.js";
import { buildUplinks } from "../../src/lab/uplinks.js";
import { UplinkHistory } from "../../src/daemon/history.js";
import type { StatusJson } from "../../src/daemon/statusPage.js";
import { cli, configFile, isRoot, killDaemon, startDaemon, type CliRun } from "../helpers/kernel.js";

const port = 41000 + (process.pid % 20000);
const CONFIG = `version: 1
uplinks:
  - name: isp1
    interface: eth1
    gateway: 203.0.113.1
    check: { targets: [203.0.113.1], hold: 2s }
  - name: isp2
    interface: eth2
    gateway: 192.0.2.1
    check: { targets: [192.0.2.1], hold: 2s }
loadBalancers:
  - name: web
    vips: [10.99.0.1]
    flows: [{ name: ping, priority: 1, protocols: [icmp] }]
    targets:
      - { name: via-isp1, via: 203.0.113.1, interface: eth1 }
      - { name: via-isp2, via: 192.0.2.1, interface: eth2 }
daemon:
  metrics: 127.0.0.1:${port}
`;
const CHROMIUM = "/usr/bin/chromium";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("uplink history", () => {
  it("keeps the last N samples per uplink, oldest first, and forgets uplinks no longer checked", () => {
    const h = new UplinkHistory(3);
    for (let i = 0; i < 5; i++) h.record([{ name: "a", state: i < 3 ? "up" : "down", ewmaMs: i, lastMs: i, loss: i / 10 }, ...(i < 4 ? [{ name: "b", state: "up" as const, ewmaMs: null, lastMs: null, loss: 0 }] : [])], 1000 * i);
    expect(h.points("a").map((p) => [p.t, p.state, p.ewmaMs])).toEqual([[2000, "up", 2], [3000, "down", 3], [4000, "down", 4]]);
    expect(h.names()).toEqual(["a"]);
    expect(h.points("b")).toEqual([]);
    expect(() => new UplinkHistory(0)).toThrow();
  });
});

describe.skipIf(!isRoot)("status page of the daemon", () => {
  const lab = new Lab("sp");
  let daemon: CliRun | undefined;
  const file = configFile(CONFIG, "status.yaml");
  const status = async () => (await fetch(`http://127.0.0.1:${port}/status.json`).then((r) => r.json())) as StatusJson;

  beforeAll(async () => {
    await buildUplinks(lab);
    daemon = await startDaemon([file, "--netns", lab.ns("host")]);
  });
  afterAll(async () => {
    killDaemon(daemon);
    cli(["destroy", "--netns", lab.ns("host")]);
    await lab.teardown();
  });

  it("GET / and /status.json beside /metrics; isp1 cut shows down with its history; Chromium renders the plots", async (ctx) => {
    // a few seconds of history with both uplinks up; pings from the LAN to the VIP count in the balancer
    await lab.exec("lan", ["ping", "-c", "5", "-i", "0.2", "-W", "1", "10.99.0.1"], undefined, true);
    await sleep(2000);
    const before = await status();
    expect(before.uplinks.map((u) => [u.name, u.state])).toEqual([["isp1", "up"], ["isp2", "up"]]);
    await lab.nft("isp1", [
      { add: { table: { family: "inet", name: "cut" } } },
      { add: { chain: { family: "inet", table: "cut", name: "in", type: "filter", hook: "prerouting", prio: -400, policy: "accept" } } },
      { add: { rule: { family: "inet", table: "cut", chain: "in", expr: [{ match: { op: "==", left: { meta: { key: "iifname" } }, right: "tohost" } }, { drop: null }] } } },
    ]);
    let s = before;
    for (let i = 0; i < 100 && !s.daemon.uplinksDown.includes("isp1"); i++) {
      await sleep(100);
      s = await status();
    }
    // one more sample of the down state in the history
    await sleep(1500);
    s = await status();

    expect(s.apiVersion).toBe(1);
    expect(s.daemon.uplinksDown).toEqual(["isp1"]);
    expect(s.daemon.failovers.some((f) => f.uplink === "isp1" && f.to === "down")).toBe(true);
    expect(s.balancers.map((b) => b.name)).toEqual(["web"]);
    const targets = s.balancers[0].targets;
    expect(targets.map((t) => t.name)).toEqual(["via-isp1", "via-isp2"]);
    expect(targets.reduce((a, t) => a + t.share, 0)).toBeCloseTo(1, 5);
    expect(targets.reduce((a, t) => a + t.packets, 0)).toBeGreaterThanOrEqual(5);
    const [isp1, isp2] = ["isp1", "isp2"].map((n) => s.uplinks.find((u) => u.name === n)!);
    expect(isp1.state).toBe("down");
    expect(isp2.state).toBe("up");
    expect(isp1.transitions).toBe(1);
    expect(isp1.loss).toBeGreaterThan(0);
    expect(isp2.ewmaMs).toBeGreaterThan(0);
    expect(Date.now() - Date.parse(isp1.sinceAt)).toBeLessThan(10_000);
    expect(Date.now() - Date.parse(isp2.sinceAt)).toBeGreaterThan(3000);
    for (const u of [isp1, isp2]) {
      expect(u.history.length).toBeGreaterThanOrEqual(4);
      expect(u.history.length).toBeLessThanOrEqual(600);
      const ts = u.history.map((p) => p.t);
      expect(ts).toEqual([...ts].sort((a, b) => a - b));
      expect(u.history[0]).toEqual({ t: expect.any(Number), state: "up", ewmaMs: expect.any(Number), lastMs: expect.any(Number), loss: expect.any(Number) });
    }
    expect(isp1.history.at(-1)!.state).toBe("down");
    expect(isp1.history.some((p) => p.state === "up")).toBe(true);
    expect(isp2.history.every((p) => p.state === "up")).toBe(true);

    // the page itself and /metrics on the same server
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain("status.json");
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text())).toMatch(/^symroute_uplink_up\{uplink="isp1"\} 0$/m);
    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);

    if (!existsSync(CHROMIUM) || spawnSync(CHROMIUM, ["--version"], { encoding: "utf8" }).status !== 0) return ctx.skip("skipped: no chromium");
    const chrome = (extra: string[]) =>
      spawnSync(
        CHROMIUM,
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", `--user-data-dir=${mkdtempSync(join(tmpdir(), "symroute-chromium-"))}`, "--window-size=1200,900", "--virtual-time-budget=5000", ...extra, `http://127.0.0.1:${port}/`],
        { encoding: "utf8", timeout: 60_000, maxBuffer: 16 << 20 },
      );
    const dom = chrome(["--dump-dom"]);
    expect(dom.status, dom.stderr).toBe(0);
    const d = dom.stdout;
    expect(d).toMatch(/<div class="card uplink" data-uplink="isp1" data-state="down">/);
    expect(d).toMatch(/<div class="card uplink" data-uplink="isp2" data-state="up">/);
    expect(d).toMatch(/<span class="state down" data-state="down">down<\/span>/);
    expect(d).toMatch(/<div class="card" data-balancer="web">/);
    for (const t of targets) expect(d).toMatch(new RegExp(`<tr data-target="${t.name}" data-state="up"><td>${t.name}</td><td>up</td><td>–</td><td>[0-9.]+ %</td><td><span class="bar" style="width:[0-9]+px"></span></td><td>[0-9]+</td></tr>`));
    for (const name of ["isp1", "isp2"]) {
      const svg = new RegExp(`<svg [^>]*data-uplink="${name}"[^>]*>([\\s\\S]*?)</svg>`).exec(d);
      expect(svg, `${name}'s plot`).not.toBeNull();
      const latency = /<polyline points="([^"]*)"[^>]*class="latency"/.exec(svg![1]);
      expect(latency, `${name}'s latency line`).not.toBeNull();
      const points = latency![1].trim().split(/\s+/);
      expect(points.length).toBeGreaterThanOrEqual(4);
      for (const p of points) expect(p).toMatch(/^[0-9.]+,[0-9.]+$/);
      if (name === "isp1") expect(svg![1]).toContain('class="down"');
    }
    expect(d).toContain('<div id="error"></div>');

    const png = join(mkdtempSync(join(tmpdir(), "symroute-shot-")), "status.png");
    const shot = chrome([`--screenshot=${png}`]);
    expect(shot.status, shot.stderr).toBe(0);
    expect(existsSync(png)).toBe(true);
    expect(statSync(png).size).toBeGreaterThan(20_000);
    console.log(`status page screenshot: ${png} (${statSync(png).size} bytes)`);
  });
});
