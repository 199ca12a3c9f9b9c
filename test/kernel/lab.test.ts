/**
 * The README's main job: `symroute lab` tells every story, each showing the
 * failure and the fix, and leaves no namespace behind.
 */
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { cli, isRoot } from "../helpers/kernel.js";

const namespaces = () => execFileSync("ip", ["netns", "list"], { encoding: "utf8" });

describe.skipIf(!isRoot)("symroute lab", () => {
  it("runs every scenario, shows each failure fixed, and tears everything down", () => {
    const r = cli(["lab"], {}, 190_000);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const s of ["return-path", "uplinks", "load-balancer", "routed-network", "daemon", "failover"]) expect(r.stdout).toContain(`${s}: the failure was shown and fixed`);
    expect(r.stdout).toMatch(/packets from the services reached the default gateway/);
    expect(r.stdout).toMatch(/isp1 dropped [1-9][0-9]* packets whose source was not its own/);
    expect(r.stdout).toMatch(/target-a +\d+ +#+/);
    // load-balancer's second half: a target killed and back, a target registered under 400 running flows
    expect(r.stdout).toMatch(/OK +target-b down by its HTTP check \d+ ms after the kill/);
    expect(r.stdout).toMatch(/OK +flows of target-a and target-c broken: 0 of \d+/);
    expect(r.stdout).toMatch(/OK +registered in \d+ ms; in the table once its TCP check passed twice, \d+ ms after the request/);
    expect(r.stdout).toMatch(/OK +of the 400 running flows 0 moved to another target, 0 broke/);
    expect(r.stdout).toMatch(/OK +new connections reach target-d: [1-9]\d* of 200/);
    const prefixes = [...r.stdout.matchAll(/building namespaces (sr[a-z0-9]+x\d+)-/g)].map((m) => m[1]);
    expect(r.stdout).toMatch(/outside -> vm1a 192\.0\.2\.10 on h2: OK after \d+ ms/);
    for (const fault of ["a rule deleted by hand", "the nft table flushed", "a link flap on eth2", "an address moved on eth1"])
      expect(r.stdout).toMatch(new RegExp(`${fault}[^\n]*: repaired in \\d+ ms`));
    expect(r.stdout).toMatch(/OK +by conntrack in the host: [1-9]\d* by isp1 \(#[^)]*\), [1-9]\d* by isp2/);
    expect(r.stdout).toMatch(/OK +isp1 marked down \d+ ms after the cut/);
    expect(r.stdout).toMatch(/OK +new connections: \d+ drawn to isp1 failed; from \d+ ms after the cut every one succeeded by isp2/);
    expect(r.stdout).toMatch(/OK +isp2's \d+ transfers untouched: still echoing, none restarted/);
    expect(r.stdout).toMatch(/OK +isp1's \d+ transfers stopped/);
    expect(r.stdout).toMatch(/OK +restarted by the lab, they echo again, by isp2/);
    expect(r.stdout).toMatch(/OK +isp1 back up \d+ ms after it answered again/);
    expect(r.stdout).toMatch(/OK +new connections use isp1 again: [1-9]\d* of \d+ by isp1, all succeeded/);
    expect(r.stdout.slice(r.stdout.indexOf("== failover"))).not.toMatch(/FAIL +/);
    expect(prefixes).toHaveLength(6);
    const left = namespaces();
    for (const p of prefixes) expect(left).not.toContain(p);
  }, 200_000);

  it("scale-out: a frontend lost, restarted and added under 400 flows, each converged and none broken", () => {
    const r = cli(["lab", "scale-out"], {}, 90_000);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/FAIL +/);
    expect(r.stdout).toMatch(/OK +router withdrew fe1 in \d+ ms/);
    expect(r.stdout).toMatch(/OK +new connections: 0 of [1-9]\d* refused/);
    expect(r.stdout).toMatch(/frontend lost +\d+ ms +0 broken/);
    expect(r.stdout).toMatch(/frontend restarted +\d+ ms +0 broken +0 refused/);
    expect(r.stdout).toMatch(/frontend added +\d+ ms +0 broken/);
    const prefix = /building namespaces (sb[a-z0-9]+x\d+)-/.exec(r.stdout)?.[1];
    expect(prefix).toBeTruthy();
    expect(namespaces()).not.toContain(prefix!);
  }, 100_000);

  it("refuses an unknown scenario with exit 1", () => {
    const r = cli(["lab", "nope"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unknown scenario 'nope' (known: return-path, uplinks, load-balancer, routed-network, daemon, failover, scale-out)");
  });
});
