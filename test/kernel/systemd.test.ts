/**
 * symroute under systemd. The unit files pass `systemd-analyze verify` with
 * no warning about them. `symroute run`'s notifications, caught on a
 * NOTIFY_SOCKET of the test's own: READY=1 only once symroute's rules are in
 * the kernel, WATCHDOG=1 every WATCHDOG_USEC/2, RELOADING=1 then READY=1 on
 * SIGHUP (READY once the new file is applied), STOPPING=1 on SIGTERM with exit
 * 0 and routing left in place, or removed with --destroy-on-exit; every
 * message in the order sent, from the daemon's PID. Then the units themselves
 * under a real systemd booted in a sandbox: start, capabilities and
 * sandboxing, watchdog, reload, stop, start again, and the --netns instance.
 */
import { copyFileSync, existsSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { sdNotify, sdNotifyDrained, watchdogIntervalMs } from "../../src/kernel/notify.js";
import { buildTwoLinkHost, cli, cliAsync, configFile, isRoot, TWO_UPLINKS_YAML, type CliRun } from "../helpers/kernel.js";
import { TWO_UPLINKS } from "../helpers/config.js";
import { has, notifyListenerUnavailable, startNotifyListener, valueOf, type NotifyListener, type NotifyMessage } from "../helpers/systemdNotify.js";
import { BUNDLE, installForVerify, unitSettings, unitText, unitValue, verify } from "../helpers/systemdUnit.js";
import { bootSystemd, SANDBOX_FILES, systemdSandboxUnavailable, type SystemdSandbox } from "../helpers/systemdBoot.js";

const UNITS = ["symroute.service", "symroute@.service"];
const hasAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0;

/** symroute's own rules (proto 97) in a host, both families. */
async function ownedRules(lab: Lab, host: string): Promise<string[]> {
  const lines: string[] = [];
  for (const family of ["-4", "-6"]) lines.push(...(await lab.exec(host, ["ip", family, "rule", "show"])).stdout.split("\n"));
  return lines.filter((l) => /\bproto 97\b/.test(l));
}

/** symroute's nft table in a host, as text ("" when there is none). */
async function ownedTable(lab: Lab, host: string): Promise<string> {
  const r = await lab.exec(host, ["nft", "list", "table", "inet", "symroute"], undefined, true);
  return r.code === 0 ? r.stdout : "";
}

/** A host like buildTwoLinkHost's, under other names, for a second namespace. */
async function buildTwoLinkHostAs(lab: Lab, host: string, peer: string): Promise<void> {
  await lab.addHosts(host, peer);
  await lab.link(host, "eth1", peer, "p1");
  await lab.link(host, "eth2", peer, "p2");
  await lab.addr(host, "eth1", "203.0.113.8/24", "2001:db8:1::8/64");
  await lab.addr(host, "eth2", "192.0.2.31/24", "2001:db8:2::31/64");
  await lab.addr(peer, "p1", "203.0.113.1/24", "2001:db8:1::1/64");
  await lab.addr(peer, "p2", "192.0.2.1/24", "2001:db8:2::1/64");
}

// two uplinks: 4 rules per family (from each address, fwmark of each uplink)
const RULES = 8;

describe("the unit files", () => {
  for (const name of UNITS) {
    it(`${name}: systemd-analyze verify exits 0 with no warning about it`, (ctx) => {
      if (!hasAnalyze) ctx.skip("skipped: systemd-analyze is not installed (Debian package systemd)");
      expect(existsSync(BUNDLE), "dist/symroute.mjs is missing: npm run -s build").toBe(true);
      const { dir } = installForVerify(name);
      try {
        // a template is verified as such and as an instance (which expands %i)
        const targets = name.includes("@") ? [`./${name}`, `./${name.replace("@", "@sdtest")}`] : [`./${name}`];
        for (const target of targets) {
          const r = verify(dir, target);
          const aboutUs = r.output.split("\n").filter((l) => l.includes("symroute"));
          expect(aboutUs, `${target}:\n${r.output}`).toEqual([]);
          expect(r.code, `${target}:\n${r.output}`).toBe(0);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("verify has teeth: the unit as shipped, with no /usr/bin/symroute here, fails naming the command", (ctx) => {
    if (!hasAnalyze) ctx.skip("skipped: systemd-analyze is not installed (Debian package systemd)");
    if (existsSync("/usr/bin/symroute")) ctx.skip("skipped: /usr/bin/symroute exists on this machine");
    const r = verify(join(import.meta.dirname, "..", "..", "systemd"), "./symroute.service");
    expect(r.code).not.toBe(0);
    expect(r.output).toContain("/usr/bin/symroute");
  });

  it("they hold the settings the daemon relies on", () => {
    for (const name of UNITS) {
      const text = unitText(name);
      const service = (key: string) => unitValue(text, "Service", key);
      expect(service("Type"), name).toBe("notify");
      // the messages come from a child (systemd-notify)
      expect(service("NotifyAccess"), name).toBe("all");
      expect(service("ExecReload"), name).toBe("/bin/kill -HUP $MAINPID");
      expect(service("WatchdogSec"), name).toBe("30s");
      expect(service("Restart"), name).toBe("on-failure");
      // SIGTERM to the daemon alone, not to its ip/nft children and lock holder
      expect(service("KillMode"), name).toBe("mixed");
      expect(service("NoNewPrivileges"), name).toBe("yes");
      expect(service("ProtectSystem"), name).toBe("strict");
      // /tmp is where ip and nft batches are handed over; strict would leave it read-only
      expect(service("PrivateTmp"), name).toBe("yes");
      expect(service("RuntimeDirectory"), name).toBe("symroute");
      expect(service("RuntimeDirectoryMode"), name).toBe("0700");
      // the state describes kernel state that outlives the daemon
      expect(service("RuntimeDirectoryPreserve"), name).toBe("yes");
      // /proc/sys/net must stay writable
      expect(unitSettings(text, "Service").map(([k]) => k), name).not.toContain("ProtectKernelTunables");
      const writable = unitSettings(text, "Service").filter(([k]) => k === "ReadWritePaths").flatMap(([, v]) => v.split(/\s+/));
      expect(writable, name).toEqual(expect.arrayContaining(["/run/symroute", "/proc/sys/net"]));
      expect(unitValue(text, "Unit", "Before") ?? "", `${name}: networking must not wait for symroute`).not.toContain("network-pre.target");
    }
    expect(unitValue(unitText("symroute.service"), "Service", "CapabilityBoundingSet")).toBe("CAP_NET_ADMIN CAP_NET_RAW");
    expect(unitValue(unitText("symroute.service"), "Service", "ExecStart")).toBe("/usr/bin/symroute run /etc/symroute/symroute.yaml");
    // entering a namespace takes CAP_SYS_ADMIN
    expect(unitValue(unitText("symroute@.service"), "Service", "CapabilityBoundingSet")).toBe("CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_ADMIN");
    expect(unitValue(unitText("symroute@.service"), "Service", "ExecStart")).toBe("/usr/bin/symroute run /etc/symroute/%i.yaml --netns %i");
  });

  it("watchdogIntervalMs: half of WATCHDOG_USEC, and only for the process WATCHDOG_PID names", () => {
    expect(watchdogIntervalMs({}, 10)).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "30000000" }, 10)).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "10" }, 10)).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "11" }, 10)).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "0" }, 10)).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "junk" }, 10)).toBeNull();
  });
});

describe.skipIf(!isRoot)("sd_notify from symroute run, on a NOTIFY_SOCKET of our own", () => {
  const lab = new Lab("sd");
  const unavailable =
    notifyListenerUnavailable() ?? (spawnSync("systemd-notify", ["--help"]).status === 0 ? null : "systemd-notify is not installed (Debian package systemd)");
  let listener: NotifyListener | null = null;
  let ns = "";
  let daemon: CliRun | null = null;
  let ready: NotifyMessage | null = null;
  let reloading: NotifyMessage | null = null;
  const config = configFile(TWO_UPLINKS);
  const running: CliRun[] = [];

  beforeAll(async () => {
    if (unavailable) return;
    listener = await startNotifyListener();
    await buildTwoLinkHost(lab);
    ns = lab.ns("h");
  });
  afterAll(async () => {
    for (const r of running) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGKILL");
    await Promise.all(running.map((r) => r.done));
    await listener?.close();
    if (ns) cli(["destroy", "--netns", ns]);
    await lab.teardown();
    rmSync(join(config, ".."), { recursive: true, force: true });
  });

  function start(extra: string[] = []): CliRun {
    const run = cliAsync(["run", config, "--netns", ns, "--metrics", "off", ...extra], { NOTIFY_SOCKET: listener!.socket, WATCHDOG_USEC: "1000000" });
    running.push(run);
    return run;
  }
  const from = (m: NotifyMessage, pid: number) => m.pid === pid && valueOf(m, "MAINPID") === String(pid);
  const skipIfUnavailable = (ctx: { skip: (note?: string) => void }) => {
    if (unavailable) ctx.skip(`skipped: ${unavailable}`);
  };

  it("sdNotify sends in the order asked, under this process's PID (MAINPID= and the credentials)", async (ctx) => {
    skipIfUnavailable(ctx);
    const before = process.env.NOTIFY_SOCKET;
    process.env.NOTIFY_SOCKET = listener!.socket;
    const first = listener!.messages.length;
    try {
      // asked all at once, as a SIGHUP's RELOADING=1 and a quick READY=1 are: separate children would race
      const sent = await Promise.all(Array.from({ length: 20 }, (_, i) => sdNotify(`STATUS=step ${i}`)));
      expect(sent.every(Boolean)).toBe(true);
      await sdNotifyDrained();
    } finally {
      if (before === undefined) delete process.env.NOTIFY_SOCKET;
      else process.env.NOTIFY_SOCKET = before;
    }
    const got = listener!.messages.slice(first).filter((m) => !has(m, "BARRIER=1"));
    expect(got.map((m) => valueOf(m, "STATUS"))).toEqual(Array.from({ length: 20 }, (_, i) => `step ${i}`));
    for (const m of got) expect(from(m, process.pid), JSON.stringify(m)).toBe(true);
  });

  it("READY=1 arrives once symroute's rules are in the kernel, from the daemon's PID", async (ctx) => {
    skipIfUnavailable(ctx);
    expect(await ownedRules(lab, "h")).toEqual([]);
    daemon = start();
    const pid = daemon.child.pid!;
    const seen = listener!.messages.length;
    ready = await Promise.race([
      listener!.next((m) => has(m, "READY=1"), 30_000, seen),
      daemon.done.then((r) => Promise.reject(new Error(`the daemon exited ${r.code} before READY=1:\n${r.stderr}`))),
    ]);
    // looked at as soon as READY=1 is in: the rules were there before it was sent
    const rules = await ownedRules(lab, "h");
    expect(rules, rules.join("\n")).toHaveLength(RULES);
    expect(await ownedTable(lab, "h")).toContain("table inet symroute");
    expect(from(ready, pid), JSON.stringify(ready)).toBe(true);
    expect(valueOf(ready, "STATUS")).toBe(`applied ${config}`);
    // nothing before it but its own start: no READY=1, STOPPING=1 or RELOADING=1 early
    const earlier = listener!.messages.slice(seen, listener!.messages.indexOf(ready)).filter((m) => !has(m, "BARRIER=1") && !has(m, "WATCHDOG=1"));
    expect(earlier).toEqual([]);
  });

  it("WATCHDOG=1 comes again and again: at least 2 in 2 s with WATCHDOG_USEC=1000000", async (ctx) => {
    skipIfUnavailable(ctx);
    expect(daemon, "the daemon of the previous test").not.toBeNull();
    const seen = listener!.messages.length;
    await new Promise((r) => setTimeout(r, 2000));
    const pings = listener!.messages.slice(seen).filter((m) => has(m, "WATCHDOG=1"));
    expect(pings.length).toBeGreaterThanOrEqual(2);
    for (const m of pings) expect(from(m, daemon!.child.pid!), JSON.stringify(m)).toBe(true);
    console.log(`watchdog: ${pings.length} pings in 2 s (WATCHDOG_USEC=1000000)`);
  });

  it("SIGHUP: RELOADING=1, then READY=1 once the new file is applied", async (ctx) => {
    skipIfUnavailable(ctx);
    expect(daemon, "the daemon of the previous test").not.toBeNull();
    // the new file adds a service pinned by marks: an nft change to wait for
    expect(await ownedTable(lab, "h")).not.toContain("198.51.100.80");
    writeFileSync(config, TWO_UPLINKS_YAML);
    const seen = listener!.messages.length;
    daemon!.child.kill("SIGHUP");
    reloading = await listener!.next((m) => has(m, "RELOADING=1"), 15_000, seen);
    const again = await listener!.next((m) => has(m, "READY=1"), 30_000, listener!.messages.indexOf(reloading) + 1);
    expect(await ownedTable(lab, "h")).toContain("198.51.100.80");
    expect(valueOf(reloading, "MONOTONIC_USEC"), JSON.stringify(reloading)).toMatch(/^\d+$/);
    for (const m of [reloading, again]) expect(from(m, daemon!.child.pid!), JSON.stringify(m)).toBe(true);
    const between = listener!.messages.slice(seen, listener!.messages.indexOf(again)).filter((m) => has(m, "READY=1"));
    expect(between, "no READY=1 before RELOADING=1").toEqual([]);
  });

  // Known bug, reported: run.ts sends performance.timeOrigin + now(), wall-clock
  // time; systemd (253+, Type=notify-reload) compares it with CLOCK_MONOTONIC.
  // Turn into it() once run.ts sends MONOTONIC_USEC=${monotonicUsec()}.
  it("MONOTONIC_USEC next to RELOADING=1 is CLOCK_MONOTONIC", (ctx) => {
    skipIfUnavailable(ctx);
    expect(reloading, "the reload of the previous test").not.toBeNull();
    const sent = BigInt(valueOf(reloading!, "MONOTONIC_USEC")!);
    const arrived = BigInt(Math.round(reloading!.atMs * 1000));
    const skew = sent > arrived ? sent - arrived : arrived - sent;
    expect(skew < 10_000_000n, `MONOTONIC_USEC ${sent} vs CLOCK_MONOTONIC ${arrived} at arrival`).toBe(true);
  });

  it("SIGTERM: STOPPING=1, exit 0, and routing stays in the kernel", async (ctx) => {
    skipIfUnavailable(ctx);
    expect(daemon, "the daemon of the previous test").not.toBeNull();
    const seen = listener!.messages.length;
    daemon!.child.kill("SIGTERM");
    const stopping = await listener!.next((m) => has(m, "STOPPING=1"), 15_000, seen);
    expect(from(stopping, daemon!.child.pid!), JSON.stringify(stopping)).toBe(true);
    const end = await daemon!.done;
    expect(end.code, end.stderr).toBe(0);
    expect(await ownedRules(lab, "h")).toHaveLength(RULES);
    expect(await ownedTable(lab, "h")).toContain("198.51.100.80");
    daemon = null;
  });

  it("--destroy-on-exit: SIGTERM gives STOPPING=1, exit 0, and nothing of symroute's left", async (ctx) => {
    skipIfUnavailable(ctx);
    const run = start(["--destroy-on-exit"]);
    const seen = listener!.messages.length;
    await Promise.race([
      listener!.next((m) => has(m, "READY=1") && m.pid === run.child.pid, 30_000, seen),
      run.done.then((r) => Promise.reject(new Error(`the daemon exited ${r.code} before READY=1:\n${r.stderr}`))),
    ]);
    expect(await ownedRules(lab, "h")).toHaveLength(RULES);
    run.child.kill("SIGTERM");
    await listener!.next((m) => has(m, "STOPPING=1") && m.pid === run.child.pid, 15_000, seen);
    const end = await run.done;
    expect(end.code, end.stderr).toBe(0);
    expect(await ownedRules(lab, "h")).toEqual([]);
    expect(await ownedTable(lab, "h")).toBe("");
  });
});

describe.skipIf(!isRoot)("the units under a real systemd, booted in a sandbox", () => {
  const lab = new Lab("sd");
  const unavailable = systemdSandboxUnavailable();
  let sandbox: SystemdSandbox | null = null;
  let bootFailure: string | null = null;
  let instance = "";

  // What differs from the shipped units, and why: no sysinit.target here
  // (DefaultDependencies=no), the binary and file under /run/sdtest, output to
  // a file (no journald), and a 2 s watchdog so the test sees it fed in seconds.
  const dropIn = (execStart: string, log: string) => `[Unit]
DefaultDependencies=no
[Service]
ExecStart=
ExecStart=${execStart}
StandardOutput=append:${SANDBOX_FILES}/${log}
StandardError=inherit
WatchdogSec=2s
`;

  beforeAll(async () => {
    if (unavailable) return;
    await buildTwoLinkHostAs(lab, "s", "speer");
    await buildTwoLinkHostAs(lab, "t", "tpeer");
    instance = lab.ns("t");
    const booted = await bootSystemd(lab.ns("s"));
    if ("reason" in booted) {
      bootFailure = booted.reason;
      return;
    }
    sandbox = booted.sandbox;
    copyFileSync(BUNDLE, join(sandbox.files, "symroute.mjs"));
    symlinkSync(`${SANDBOX_FILES}/symroute.mjs`, join(sandbox.files, "symroute"));
    writeFileSync(join(sandbox.files, "symroute.yaml"), TWO_UPLINKS);
    writeFileSync(join(sandbox.files, `${instance}.yaml`), TWO_UPLINKS);
    for (const name of UNITS) sandbox.writeUnit(name, unitText(name));
    sandbox.writeUnit("symroute.service.d/test.conf", dropIn(`${SANDBOX_FILES}/symroute run ${SANDBOX_FILES}/symroute.yaml`, "symroute.log"));
    sandbox.writeUnit("symroute@.service.d/test.conf", dropIn(`${SANDBOX_FILES}/symroute run ${SANDBOX_FILES}/%i.yaml --netns %i`, "symroute-%i.log"));
    await sandbox.systemctl("daemon-reload");
  }, 60_000);
  afterAll(async () => {
    await sandbox?.shutdown(["symroute.service", `symroute@${instance}.service`]);
    await lab.teardown();
  });

  const skipIfUnavailable = (ctx: { skip: (note?: string) => void }) => {
    if (unavailable) ctx.skip(`skipped: ${unavailable}`);
    if (bootFailure) ctx.skip(`skipped: ${bootFailure}`);
  };
  const log = async (name = "symroute.log") => (await sandbox!.exec(["tail", "-n", "20", `${SANDBOX_FILES}/${name}`])).stdout;
  const mainPid = async (unit: string) => Number((await sandbox!.show(unit, "MainPID")).MainPID);
  const procStatus = async (pid: number, field: string) => (await sandbox!.exec(["grep", `^${field}:`, `/proc/${pid}/status`])).stdout.split(/\s+/)[1];

  it("systemctl start returns once READY=1 came (from a child: NotifyAccess=all), with the rules in place", async (ctx) => {
    skipIfUnavailable(ctx);
    const r = await sandbox!.systemctl("start", "symroute.service");
    expect(r.code, `${r.stderr}\n${await log()}`).toBe(0);
    const p = await sandbox!.show("symroute.service", "ActiveState", "SubState", "StatusText", "NRestarts");
    expect(p).toEqual({ ActiveState: "active", SubState: "running", StatusText: `applied ${SANDBOX_FILES}/symroute.yaml`, NRestarts: "0" });
    expect(await ownedRules(lab, "s")).toHaveLength(RULES);
  });

  it("it runs with CAP_NET_ADMIN and CAP_NET_RAW only, /proc/sys read-only but net/ written, a private /tmp", async (ctx) => {
    skipIfUnavailable(ctx);
    const pid = await mainPid("symroute.service");
    expect(pid).toBeGreaterThan(0);
    // bits 12 and 13
    for (const field of ["CapBnd", "CapEff", "CapPrm"]) expect(await procStatus(pid, field), field).toBe("0000000000003000");
    expect(await procStatus(pid, "NoNewPrivs")).toBe("1");
    // seccomp filters loaded (RestrictAddressFamilies=, RestrictNamespaces=, ...): the runs above happened under them
    expect(await procStatus(pid, "Seccomp")).toBe("2");
    const mounts = (await sandbox!.exec(["cat", `/proc/${pid}/mountinfo`])).stdout.split("\n").map((l) => l.split(" "));
    const options = (path: string) => mounts.find((f) => f[4] === path)?.[5] ?? "(not a mount)";
    expect(options("/proc/sys")).toMatch(/^ro\b/);
    expect(options("/proc/sys/net")).toMatch(/^rw\b/);
    expect(options("/tmp")).toMatch(/^rw\b/);
    expect(options("/")).toMatch(/^ro\b/);
    // and symroute did write there: the uplinks' rp_filter is loose (2), the lab's 0 before
    const rp = await lab.exec("s", ["cat", "/proc/sys/net/ipv4/conf/eth1/rp_filter"]);
    expect(rp.stdout.trim()).toBe("2");
  });

  it("the watchdog is fed: WatchdogSec=2s passes again and again without a restart", async (ctx) => {
    skipIfUnavailable(ctx);
    const first = await sandbox!.show("symroute.service", "WatchdogTimestampMonotonic");
    await new Promise((r) => setTimeout(r, 4500));
    const later = await sandbox!.show("symroute.service", "WatchdogTimestampMonotonic", "NRestarts", "ActiveState");
    expect(BigInt(later.WatchdogTimestampMonotonic)).toBeGreaterThan(BigInt(first.WatchdogTimestampMonotonic));
    expect(later.NRestarts, await log()).toBe("0");
    expect(later.ActiveState).toBe("active");
  });

  it("systemctl reload applies the edited file and the unit is back to running", async (ctx) => {
    skipIfUnavailable(ctx);
    const pid = await mainPid("symroute.service");
    writeFileSync(join(sandbox!.files, "symroute.yaml"), TWO_UPLINKS_YAML);
    const r = await sandbox!.systemctl("reload", "symroute.service");
    expect(r.code, r.stderr).toBe(0);
    // Type=notify on systemd 252: kill -HUP returns at once, RELOADING=1 ... READY=1 follow
    let state = "";
    for (let i = 0; i < 50; i++) {
      state = (await sandbox!.show("symroute.service", "SubState")).SubState;
      if (state === "running" && (await ownedTable(lab, "s")).includes("198.51.100.80")) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(state, await log()).toBe("running");
    expect(await ownedTable(lab, "s"), await log()).toContain("198.51.100.80");
    expect(await mainPid("symroute.service")).toBe(pid);
  });

  it("systemctl stop: Result=success, routing and the state file stay", async (ctx) => {
    skipIfUnavailable(ctx);
    const r = await sandbox!.systemctl("stop", "symroute.service");
    expect(r.code, r.stderr).toBe(0);
    const p = await sandbox!.show("symroute.service", "ActiveState", "Result", "ExecMainStatus");
    expect(p, await log()).toEqual({ ActiveState: "inactive", Result: "success", ExecMainStatus: "0" });
    expect(await ownedRules(lab, "s")).toHaveLength(RULES);
    expect(await ownedTable(lab, "s")).toContain("198.51.100.80");
    // RuntimeDirectoryPreserve=yes
    expect((await sandbox!.exec(["test", "-s", "/run/symroute/host.json"])).code).toBe(0);
  });

  it("started again, it takes over what it left, with nothing to change", async (ctx) => {
    skipIfUnavailable(ctx);
    const r = await sandbox!.systemctl("start", "symroute.service");
    expect(r.code, `${r.stderr}\n${await log()}`).toBe(0);
    expect((await sandbox!.show("symroute.service", "SubState")).SubState).toBe("running");
    // this start's lines: READY, and no repair, failure or conflict (an empty plan logs at debug level only)
    const text = await log();
    const since = text.slice(text.lastIndexOf('"msg":"stopping"'));
    expect(since, text).toContain('"msg":"ready"');
    expect(since, text).not.toMatch(/"msg":"(repaired|reconcile failed)"|conflict/);
    expect(await ownedRules(lab, "s")).toHaveLength(RULES);
  });

  it("symroute@NS.service routes inside NS, with CAP_SYS_ADMIN added to enter it", async (ctx) => {
    skipIfUnavailable(ctx);
    const unit = `symroute@${instance}.service`;
    expect(await ownedRules(lab, "t")).toEqual([]);
    const r = await sandbox!.systemctl("start", unit);
    expect(r.code, `${r.stderr}\n${await log(`symroute-${instance}.log`)}`).toBe(0);
    expect((await sandbox!.show(unit, "SubState", "StatusText"))).toEqual({ SubState: "running", StatusText: `applied ${SANDBOX_FILES}/${instance}.yaml` });
    expect(await ownedRules(lab, "t")).toHaveLength(RULES);
    // bits 12, 13 and 21
    expect(await procStatus(await mainPid(unit), "CapBnd")).toBe("0000000000203000");
    const stop = await sandbox!.systemctl("stop", unit);
    expect(stop.code, stop.stderr).toBe(0);
    expect((await sandbox!.show(unit, "Result")).Result).toBe("success");
    expect(await ownedRules(lab, "t")).toHaveLength(RULES);
  });
});
