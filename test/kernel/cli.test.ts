/**
 * The command line as users meet it: exit codes, --json, validate errors,
 * plan --exit-code, --confirm-timeout with and without confirm, the vrf
 * strategy refused on a kernel without VRF, and rendered rules that the
 * distribution's own loaders accept.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../../src/lab/lab.js";
import { examplePath } from "../../src/lab/examples.js";
import { buildTwoLinkHost, cli, configFile, isRoot, kernelSnapshot, RP_KEYS, TWO_UPLINKS_YAML } from "../helpers/kernel.js";
import { skipForKernel } from "../helpers/skips.js";

const VRF_YAML = `version: 1
uplinks:
  - name: n1
    interface: eth1
    gateway: 203.0.113.1
    returnTraffic: none
services:
  - name: s
    addresses: [198.51.100.5]
    uplink: n1
    strategy: vrf
`;

describe("cli without a kernel", () => {
  it("validate: exit 0 on a good file, exit 1 with file:line:col on a bad one, --json lists issues", () => {
    expect(cli(["validate", examplePath("uplinks.yaml")]).code).toBe(0);
    const bad = configFile("version: 1\nuplinks:\n  - name: isp1\n    interface: eth1\n    gateway: nope\n", "bad.yaml");
    const r = cli(["validate", bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.yaml:5:14: uplinks\[0\]\.gateway: must be an IPv4 address/);
    const j = cli(["validate", bad, "--json"]);
    expect(j.code).toBe(1);
    const parsed = JSON.parse(j.stdout);
    expect(parsed.valid).toBe(false);
    expect(parsed.issues[0]).toMatchObject({ line: 5, col: 14, path: ["uplinks", 0, "gateway"] });
  });

  it("a missing file and an unknown command are exit 1 with a message", () => {
    const r = cli(["validate", "/nonexistent/x.yaml"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("/nonexistent/x.yaml: cannot read: ENOENT");
    expect(cli(["frobnicate"]).code).toBe(1);
  });

  it("render --offline prints each format; schema prints JSON Schema", () => {
    const nft = cli(["render", examplePath("uplinks.yaml"), "--format", "nft", "--offline"]);
    expect(nft.code).toBe(0);
    expect(nft.stdout).toContain("table inet symroute");
    expect(cli(["render", examplePath("uplinks.yaml"), "--format", "yaml", "--offline"]).code).toBe(1);
    const schema = JSON.parse(cli(["schema"]).stdout);
    expect(schema.properties.uplinks.items.properties.interface.type).toBe("string");
  });
});

describe.skipIf(!isRoot)("cli against a namespace", () => {
  const lab = new Lab("tc");
  let pristine = "";
  beforeAll(async () => {
    await buildTwoLinkHost(lab);
    pristine = await kernelSnapshot(lab, "h", RP_KEYS);
  });
  afterAll(async () => {
    cli(["destroy", "--netns", lab.ns("h")]);
    await lab.teardown();
  });

  it("plan --exit-code is 2 with changes and 0 after apply; --json describes the plan", () => {
    const file = configFile(TWO_UPLINKS_YAML);
    const p = cli(["plan", file, "--netns", lab.ns("h"), "--exit-code", "--json"]);
    expect(p.code).toBe(2);
    const plan = JSON.parse(p.stdout);
    expect(plan.changes).toBe(true);
    expect(plan.plan.rules.add.length).toBe(8);
    expect(plan.plan.nft.action).toBe("create");
    const a = cli(["apply", file, "--netns", lab.ns("h"), "--json"]);
    expect(a.code).toBe(0);
    expect(JSON.parse(a.stdout).changed).toBe(true);
    expect(cli(["plan", file, "--netns", lab.ns("h"), "--exit-code"]).code).toBe(0);
    const status = JSON.parse(cli(["status", "--netns", lab.ns("h"), "--json"]).stdout);
    expect(status.owned).toEqual({ rules: 8, routes: 8, nftTable: true });
    expect(status.drift).toEqual([]);
  });

  it("status notices drift and apply repairs it", async () => {
    await lab.exec("h", ["ip", "rule", "del", "pref", "1000"]);
    await lab.exec("h", ["nft", "delete", "chain", "inet", "symroute", "output"]);
    const status = JSON.parse(cli(["status", "--netns", lab.ns("h"), "--json"]).stdout);
    expect(status.drift.join("\n")).toMatch(/\+ rule -4 pref 1000 from 203\.0\.113\.8 lookup 1000/);
    expect(status.drift.join("\n")).toMatch(/~ nft table inet symroute \(table changed outside symroute\)/);
    const file = configFile(TWO_UPLINKS_YAML);
    expect(cli(["apply", file, "--netns", lab.ns("h")]).code).toBe(0);
    expect(JSON.parse(cli(["status", "--netns", lab.ns("h"), "--json"]).stdout).drift).toEqual([]);
  });

  it("--confirm-timeout reverts unless confirmed", async () => {
    expect(cli(["destroy", "--netns", lab.ns("h")]).code).toBe(0);
    const file = configFile(TWO_UPLINKS_YAML);
    const a = cli(["apply", file, "--netns", lab.ns("h"), "--confirm-timeout", "1500ms"]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toContain("symroute confirm");
    expect(await kernelSnapshot(lab, "h", RP_KEYS)).not.toBe(pristine);
    await new Promise((r) => setTimeout(r, 3500));
    expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(pristine);

    const b = cli(["apply", file, "--netns", lab.ns("h"), "--confirm-timeout", "1500ms"]);
    expect(b.code).toBe(0);
    const applied = await kernelSnapshot(lab, "h", RP_KEYS);
    expect(cli(["confirm", "--netns", lab.ns("h")]).code).toBe(0);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(applied);
    expect(cli(["confirm", "--netns", lab.ns("h")]).code).toBe(1);
  });

  const vrfSupported = async () => {
    const probe = await lab.exec("h", ["ip", "link", "add", "vrfprobe", "type", "vrf", "table", "10"], undefined, true);
    if (probe.code === 0) await lab.exec("h", ["ip", "link", "del", "vrfprobe"]);
    return probe.code === 0;
  };

  it("the vrf strategy is refused with the missing kernel feature named, and nothing changes", async (ctx) => {
    if (await vrfSupported()) return skipForKernel(ctx, "this kernel has vrf support, the refusal cannot be shown");
    expect(cli(["destroy", "--netns", lab.ns("h")]).code).toBe(0);
    const before = await kernelSnapshot(lab, "h", RP_KEYS);
    const r = cli(["apply", configFile(VRF_YAML, "vrf.yaml"), "--netns", lab.ns("h")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/vrf\.yaml: this kernel has no VRF support \(ip link add type vrf: .+\); the vrf strategy cannot be applied here/);
    expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(before);
  });

  it("the vrf strategy creates the VRF and veth legs, and destroy removes them", async (ctx) => {
    if (!(await vrfSupported())) return skipForKernel(ctx, "no vrf support");
    expect(cli(["destroy", "--netns", lab.ns("h")]).code).toBe(0);
    const before = await kernelSnapshot(lab, "h", RP_KEYS);
    const r = cli(["apply", configFile(VRF_YAML, "vrf.yaml"), "--netns", lab.ns("h")]);
    expect(r.code, r.stderr).toBe(0);
    const links = (await lab.exec("h", ["ip", "-br", "link", "show"])).stdout;
    expect(links).toMatch(/srvrf0/);
    expect(links).toMatch(/srv0d/);
    expect((await lab.exec("h", ["ip", "-d", "link", "show", "eth1"])).stdout).toMatch(/master srvrf0/);
    expect(cli(["destroy", "--netns", lab.ns("h")]).code).toBe(0);
    expect(await kernelSnapshot(lab, "h", RP_KEYS)).toBe(before);
  });

  it("rendered nft and iptables rules load with nft -c and iptables-restore --test", async () => {
    const nft = cli(["render", examplePath("return-path.yaml"), "--format", "nft", "--offline"]).stdout;
    const c = await lab.exec("h", ["nft", "-c", "-f", "-"], nft, true);
    expect(c.code, c.stderr).toBe(0);
    const ipt = cli(["render", examplePath("return-path.yaml"), "--format", "iptables", "--offline"]).stdout;
    const [v4, v6] = ipt.split("# ip6tables-restore --noflush\n");
    const t4 = await lab.exec("h", ["iptables-restore", "--test", "--noflush"], v4, true);
    expect(t4.code, t4.stderr).toBe(0);
    const t6 = await lab.exec("h", ["ip6tables-restore", "--test", "--noflush"], v6, true);
    expect(t6.code, t6.stderr).toBe(0);
  });
});
