/**
 * Issue 17 through the daemon as a process: a registration that would run a
 * program, leave the conduits or outlast a timer is refused over the socket
 * and the CLI with its status code, and nothing of it runs or stays; the
 * longest lease allowed leaves the daemon idle.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { Lab } from "../../src/lab/lab.js";
import { buildLoadBalancer } from "../../src/lab/loadBalancer.js";
import { examplePath } from "../../src/lab/examples.js";
import { callDaemon } from "../../src/daemon/client.js";
import { cli, configFile, isRoot, killDaemon, startDaemon, type CliRun } from "../helpers/kernel.js";

// no lease cap: the registrant's own lease is all there is, as in the report of the spinning daemon
const config = readFileSync(examplePath("load-balancer.yaml"), "utf8")
  .replace(/\n      - \{ name: target-d[^\n]*/, "")
  .replace("    flows:", "    registration: {}\n    flows:")
  .concat('daemon:\n  metrics: "off"\n');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds the process has used (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

describe.skipIf(!isRoot)("registration rules, through the daemon", () => {
  const lab = new Lab("rr");
  let daemon: CliRun | undefined;
  const file = configFile(config, "rules.yaml");
  const ns = () => lab.ns("fe");
  const post = (body: unknown) => callDaemon("POST", "/v1/balancers/stream-a/targets", ns(), 30_000, body);
  const names = async () => ((await callDaemon("GET", "/v1/balancers/stream-a/targets", ns()))!.body.targets as { name: string }[]).map((t) => t.name);

  beforeAll(async () => {
    await buildLoadBalancer(lab);
    daemon = await startDaemon([file, "--netns", ns()]);
  });
  afterAll(async () => {
    killDaemon(daemon);
    cli(["destroy", "--netns", ns()]);
    await lab.teardown();
  });

  it("a command check is refused over the socket (403) and the CLI (exit 1), and the command never runs", async () => {
    const marker = `/tmp/symroute-rr-${process.pid}-ran`;
    const answer = await post({ name: "evil", via: "172.16.1.8", interface: "conduit-b", check: { command: ["/usr/bin/touch", marker], interval: "50ms" } });
    expect(answer?.status).toBe(403);
    expect((answer?.body.errors as string[])[0]).toMatch(/^check\.command: /);
    const viaCli = cli(["lb", "target", "add", "stream-a", "evil", "--via", "172.16.1.8", "--interface", "conduit-b", "--check-command", "/usr/bin/touch", marker, "--netns", ns()]);
    expect(viaCli.code).toBe(1);
    expect(viaCli.stderr).toContain("--check-command: a registered target may carry tcp and http checks only");
    await sleep(500);
    expect(existsSync(marker)).toBe(false);
    expect(await names()).not.toContain("evil");
  });

  it("a next hop outside the conduits is refused with 403, naming the field", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      // the egress gateway, on the uplink side
      [{ name: "x1", via: "169.254.100.150", interface: "ext-vlan0" }, /^interface: ext-vlan0 is not one of stream-a's conduits/],
      // any host on the uplink's subnet, through a conduit
      [{ name: "x2", via: "169.254.100.7", interface: "conduit-a" }, /^via: 169\.254\.100\.7 is not in the subnets of conduit-a/],
      // the frontend's own conduit address
      [{ name: "x3", via: "172.16.1.4", interface: "conduit-b" }, /^via: 172\.16\.1\.4 is an address of this frontend/],
      [{ name: "x4", via6: "fd00:0:0:1::4", interface: "conduit-b" }, /^via6: fd00:0:0:1::4 is an address of this frontend/],
    ];
    for (const [body, why] of cases) {
      const answer = await post(body);
      expect(answer?.status, JSON.stringify(answer?.body)).toBe(403);
      expect((answer?.body.errors as string[])[0]).toMatch(why);
    }
    expect((await names()).filter((n) => n.startsWith("x"))).toEqual([]);
    const plan = cli(["plan", file, "--netns", ns(), "--exit-code"]);
    expect(plan.code, plan.stdout).toBe(0);
  });

  it("a lease beyond a day is refused (400); the longest allowed one leaves the daemon idle, with no timer overflow", async () => {
    const huge = await post({ name: "t-long", via: "172.16.1.8", interface: "conduit-b", lease: "99999m" });
    expect(huge?.status).toBe(400);
    expect(huge?.body.error).toMatch(/^lease: must be a duration between 1s and 24h/);
    const drain = await callDaemon("POST", "/v1/balancers/stream-a/targets/target-a/drain", ns(), 30_000, { timeout: "99999m" });
    expect(drain?.status).toBe(400);
    const day = await post({ name: "t-long", via: "172.16.1.8", interface: "conduit-b", lease: "1440m" });
    expect(day?.status, JSON.stringify(day?.body)).toBe(201);
    const pid = daemon!.child.pid!;
    const before = cpuSeconds(pid);
    await sleep(3000);
    const share = (cpuSeconds(pid) - before) / 3;
    console.log(`daemon CPU with a 24h lease: ${(share * 100).toFixed(1)} % of a core`);
    // the overflowing timer used about 20 % of a core
    expect(share).toBeLessThan(0.05);
    expect(daemon!.output()).not.toContain("TimeoutOverflowWarning");
  });
});
