/**
 * Ownership: foreign rules, routes, an nft table and marks outside the mask
 * are byte-for-byte the same after apply and destroy; a foreign rule inside
 * symroute's priority range is reported and nothing is applied.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { buildTwoLinkHost, cli, configFile, isRoot, kernelSnapshot, RP_KEYS, TWO_UPLINKS_YAML } from "../helpers/kernel.js";

describe.skipIf(!isRoot)("ownership", () => {
  const lab = new Lab("to");
  let before = "";
  beforeAll(async () => {
    await buildTwoLinkHost(lab);
    const ip = (...w: string[]) => lab.exec("h", ["ip", ...w]);
    await ip("rule", "add", "from", "10.9.9.9", "lookup", "77", "pref", "500");
    await ip("rule", "add", "fwmark", "0x1/0xff", "lookup", "78", "pref", "600");
    await ip("-6", "rule", "add", "from", "2001:db8:99::/48", "lookup", "77", "pref", "501");
    await ip("route", "add", "default", "via", "203.0.113.1", "table", "77");
    await ip("route", "add", "10.99.0.0/16", "via", "192.0.2.1", "proto", "static");
    await ip("-6", "route", "add", "2001:db8:77::/48", "via", "2001:db8:1::1", "table", "77");
    await ip("route", "add", "default", "via", "192.0.2.1");
    await lab.exec("h", ["sysctl", "-q", "-w", "net/ipv4/conf/eth1/rp_filter=1"]);
    await lab.exec("h", ["nft", "-f", "-"], `table inet foreign {
  chain pre { type filter hook prerouting priority -200; policy accept; meta mark set meta mark | 0x1 counter; }
  chain out { type route hook output priority 10; policy accept; ct mark set ct mark | 0x100; }
}
table ip natty {
  chain post {
    type nat hook postrouting priority 100; policy accept;
    oifname "eth1" masquerade
  }
}
`);
    before = await kernelSnapshot(lab, "h", RP_KEYS);
  });
  afterAll(async () => {
    await lab.teardown();
  });

  it("apply adds its own objects and leaves every foreign one as it was; destroy restores the host byte for byte", async () => {
    const file = configFile(TWO_UPLINKS_YAML);
    const a = cli(["apply", file, "--netns", lab.ns("h")]);
    expect(a.code, a.stderr).toBe(0);
    const during = await kernelSnapshot(lab, "h", RP_KEYS);
    expect(during).not.toBe(before);
    for (const line of before.split("\n").filter((l) => /lookup 7[78]|table 77|10\.99\.0\.0|masquerade|0x00000100|meta mark \| 0x00000001/.test(l)))
      expect(during, line).toContain(line);
    expect(during).toContain("table inet symroute");
    const d = cli(["destroy", "--netns", lab.ns("h")]);
    expect(d.code, d.stderr).toBe(0);
    expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(before);
  });

  it("a foreign rule in symroute's priority range is a conflict: reported, nothing applied", async () => {
    await lab.exec("h", ["ip", "rule", "add", "from", "10.8.8.8", "lookup", "77", "pref", "1500"]);
    const withForeign = await kernelSnapshot(lab, "h", RP_KEYS);
    const file = configFile(TWO_UPLINKS_YAML);
    const plan = cli(["plan", file, "--netns", lab.ns("h")]);
    expect(plan.stdout).toMatch(/! conflict: foreign rule in symroute's priority range: -4 pref 1500 from 10\.8\.8\.8 lookup 77/);
    const a = cli(["apply", file, "--netns", lab.ns("h")]);
    expect(a.code).toBe(1);
    expect(a.stderr).toContain("conflicts with objects symroute does not own");
    expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(withForeign);
    await lab.exec("h", ["ip", "rule", "del", "pref", "1500"]);
  });

  it("marks are set only within the mask: foreign mark bits survive on symroute's connections", async () => {
    const file = configFile(TWO_UPLINKS_YAML);
    expect(cli(["apply", file, "--netns", lab.ns("h")]).code).toBe(0);
    const ruleset = (await lab.exec("h", ["nft", "list", "table", "inet", "symroute"])).stdout;
    const setters = ruleset.split("\n").filter((l) => l.includes("mark set"));
    expect(setters.length).toBeGreaterThan(0);
    for (const line of setters) {
      // nft may print (x & ~M) | V as (x & (~M | V)) | V: check the meaning, not the spelling
      const m = /mark set (?:ct|meta) mark & (0x[0-9a-f]+) \| (0x[0-9a-f]+)/.exec(line);
      expect(m, line).not.toBeNull();
      const [keep, value] = [Number(m![1]), Number(m![2])];
      expect((keep | 0x00ff0000) >>> 0, line).toBe(0xffffffff);
      expect(value & ~0x00ff0000, line).toBe(0);
    }
    expect(cli(["destroy", "--netns", lab.ns("h")]).code).toBe(0);
    expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(before);
  });

  it("an address that was there before symroute stays after destroy; one symroute added goes", async () => {
    const yaml = `version: 1
routedNetworks:
  - name: net
    interface: eth1
    subnet: 203.0.113.0/24
    subnet6: "2001:db8:9::/64"
    gateway: 203.0.113.8
    gateway6: "2001:db8:9::1"
    role: router
`;
    const file = configFile(yaml);
    const a = cli(["apply", file, "--netns", lab.ns("h")]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toContain("+ addr -6 2001:db8:9::1/64 dev eth1");
    expect(a.stdout).not.toContain("+ addr -4 203.0.113.8/24");
    expect(cli(["destroy", "--netns", lab.ns("h")]).code).toBe(0);
    const addrs = (await lab.exec("h", ["ip", "addr", "show", "dev", "eth1"])).stdout;
    expect(addrs).toContain("203.0.113.8/24");
    expect(addrs).not.toContain("2001:db8:9::1");
    expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(before);
  });
});
