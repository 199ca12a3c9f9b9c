/**
 * DESIGN.md's example config (every section at once, the routed subnet moved
 * off the uplink's) applied to one namespace: applies, re-plans to nothing,
 * and destroy leaves rules, routes, nft and sysctls byte for byte as before.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Lab } from "../../src/lab/lab.js";
import { cli, configFile, isRoot } from "../helpers/kernel.js";

const design = readFileSync(join(import.meta.dirname, "..", "golden", "design-example", "config.yaml"), "utf8")
  .replace("subnet: 192.0.2.0/24", "subnet: 198.51.100.0/24")
  .replace("gateway: 192.0.2.1          # and/or gateway6", "gateway: 198.51.100.1")
  .replace("arpSource: 192.0.2.254", "arpSource: 198.51.100.254")
  .replace("{ address: 192.0.2.10, tap: tap0 }", "{ address: 198.51.100.10, tap: tap0 }");

describe.skipIf(!isRoot)("DESIGN's example config", () => {
  const lab = new Lab("tx");
  const snapshot = async () => {
    const parts: string[] = [];
    for (const argv of [["ip", "-4", "rule"], ["ip", "-6", "rule"], ["ip", "-4", "route", "show", "table", "all"], ["ip", "-6", "route", "show", "table", "all"], ["nft", "-s", "list", "ruleset"], ["ip", "-6", "neigh", "show", "proxy"], ["ip", "addr"]])
      parts.push((await lab.exec("h", argv)).stdout);
    const sysctl = (await lab.exec("h", ["sysctl", "-a"], undefined, true)).stdout.split("\n").filter((l) => /rp_filter|forwarding|proxy_arp|proxy_ndp|proxy_delay/.test(l));
    return [...parts, ...sysctl].join("\n");
  };
  beforeAll(async () => {
    await lab.addHosts("h", "peer");
    for (const [i, dev] of ["eth1", "eth2", "conduit-a", "ext-vlan0", "eth0.500", "tap0", "eth0"].entries()) await lab.link("h", dev, "peer", `p${i}`);
    await lab.addr("h", "eth1", "203.0.113.8/24");
    await lab.addr("h", "eth2", "192.0.2.31/24");
    await lab.addr("h", "conduit-a", "172.16.0.4/24");
    await lab.addr("h", "ext-vlan0", "169.254.100.1/24");
  });
  afterAll(async () => {
    await lab.teardown();
  });

  it("applies, plans to nothing after, and destroy restores the host byte for byte", async () => {
    const before = await snapshot();
    const file = configFile(design, "design.yaml");
    const a = cli(["apply", file, "--netns", lab.ns("h")]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toContain("routedNetworks[0].masquerade: ignored: only the router roles masquerade");
    expect(cli(["plan", file, "--netns", lab.ns("h"), "--exit-code"]).code).toBe(0);
    const during = await snapshot();
    for (const want of ["table inet symroute", "table arp symroute", "lookup 4096", "iif eth0.500 lookup 500"]) expect(during).toContain(want);
    expect(cli(["destroy", "--netns", lab.ns("h")]).code).toBe(0);
    expect(await snapshot()).toBe(before);
  });
});
