/**
 * trace and doctor on seed 000's lab: doctor finds the failure before
 * symroute and none after; trace shows the reply leaving by the wrong
 * interface before and by the right one after, in text and JSON; bad input
 * gets a clear error.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { buildReturnPath, RETURN_PATH } from "../../src/lab/returnPath.js";
import { examplePath } from "../../src/lab/examples.js";
import { cli, isRoot } from "../helpers/kernel.js";

describe.skipIf(!isRoot)("trace and doctor", () => {
  const lab = new Lab("td");
  const ns = () => lab.ns("node");
  const traceArgs = (extra: string[] = []) => ["trace", "--netns", ns(), "--from", RETURN_PATH.client1.v4, "--to", RETURN_PATH.service1.v4, "--iif", "eth1", "--proto", "tcp", "--sport", "40000", "--dport", "3000", "--reply", ...extra];
  beforeAll(async () => {
    await buildReturnPath(lab);
  });
  afterAll(async () => {
    cli(["destroy", "--netns", ns()]);
    await lab.teardown();
  });

  it("before symroute: doctor names the unpinned services, trace shows the reply leaving by eth0", () => {
    const d = cli(["doctor", "--netns", ns(), "--json"]);
    expect(d.code).toBe(0);
    const findings = JSON.parse(d.stdout).findings as { kind: string; message: string }[];
    const services = findings.filter((f) => f.kind === "unpinned-service").map((f) => f.message.split(" ")[0]);
    expect(services.sort()).toEqual(["192.168.1.1", "192.168.2.1", "fd00:1::1", "fd00:2::1"]);
    const t = JSON.parse(cli(traceArgs(["--json"])).stdout);
    expect(t.result).toEqual({ type: "local", table: "local", dev: "lo", src: RETURN_PATH.client1.v4 });
    expect(t.reply.result).toEqual({ type: "unicast", table: "main", dev: "eth0", via: "10.111.220.1", src: RETURN_PATH.service1.v4 });
    expect(t.reply.sameInterface).toBe(false);
    expect(cli(traceArgs()).stdout).toContain("WARNING: the reply leaves by eth0, not by eth1 where the request came in");
  });

  it("after symroute: doctor finds nothing, trace shows the reply leaving by eth1 through symroute's table", () => {
    expect(cli(["apply", examplePath("return-path.yaml"), "--netns", ns()]).code).toBe(0);
    const d = cli(["doctor", "--netns", ns(), "--json"]);
    expect(JSON.parse(d.stdout).findings).toEqual([]);
    const t = JSON.parse(cli(traceArgs(["--json"])).stdout);
    expect(t.reply.result).toEqual({ type: "unicast", table: "1000", dev: "eth1", via: "10.111.221.21", src: RETURN_PATH.service1.v4 });
    expect(t.reply.sameInterface).toBe(true);
    expect(t.steps[0].text).toContain("ct mark set 0x10000");
    // svc2 is pinned by marks: the trace says which nft rule set which mark
    const m = JSON.parse(cli(["trace", "--netns", ns(), "--from", RETURN_PATH.service2.v4, "--to", RETURN_PATH.client2.v4, "--json"]).stdout);
    expect(m.steps.map((s: { text: string }) => s.text).join("\n")).toMatch(/source 192\.168\.2\.1 is pinned by a service: meta mark set 0x20000[\s\S]*rule 1008: from all fwmark 0x20000\/0xff0000 lookup 1001: matched/);
    expect(m.result).toMatchObject({ type: "unicast", dev: "eth2", via: "10.111.222.21" });
  });

  it("doctor notices when another tool deleted symroute's rules", async () => {
    await lab.exec("node", ["ip", "rule", "del", "pref", "1000"]);
    const findings = JSON.parse(cli(["doctor", "--netns", ns(), "--json"]).stdout).findings as { kind: string; message: string }[];
    const deleted = findings.find((f) => f.kind === "deleted-by-another-tool");
    expect(deleted?.message).toMatch(/1 of symroute's objects are gone since the last apply .*rule -4 pref 1000 from 192\.168\.1\.1 lookup 1000/);
    expect(cli(["apply", examplePath("return-path.yaml"), "--netns", ns()]).code).toBe(0);
    expect(JSON.parse(cli(["doctor", "--netns", ns(), "--json"]).stdout).findings).toEqual([]);
  });

  it("trace against a config file shows the kernel as it would be after applying it", () => {
    expect(cli(["destroy", "--netns", ns()]).code).toBe(0);
    const t = JSON.parse(cli(["trace", examplePath("return-path.yaml"), ...traceArgs(["--json"]).slice(1)]).stdout);
    expect(t.reply.result.dev).toBe("eth1");
  });

  it("bad input: a clear error and exit 1", () => {
    const bad = (args: string[], message: RegExp) => {
      const r = cli(["trace", "--netns", ns(), ...args]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(message);
    };
    bad(["--from", "10.0.0.1", "--to", "2001:db8::1"], /--from 10\.0\.0\.1 and --to 2001:db8::1 are of different address families/);
    bad(["--from", "10.0.0.1", "--to", "10.0.0.2", "--iif", "eth9"], /--iif: no interface named 'eth9'/);
    bad(["--to", "10.0.0.2", "--mark", "0x100000000"], /--mark: '0x100000000' is not a number from 0 to 4294967295/);
    bad(["--to", "10.0.0.300"], /--to: '10\.0\.0\.300' is not an IPv4 or IPv6 address/);
  });
});
