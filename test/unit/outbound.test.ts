/**
 * Issue 11: outbound policies. Config errors with their places, and the
 * compiled choice: weights as ranges of the drawn number, the lowest live
 * tier, a down uplink moving connections to the next tier, all down.
 */
import { describe, expect, it } from "vitest";
import { mustFail, mustLoad } from "../helpers/config.js";
import { compile } from "../../src/compile/index.js";
import { noFacts } from "../../src/model/facts.js";
import { tableText } from "../../src/model/nftTable.js";
import { render } from "../../src/render/index.js";
import { inputsOf } from "../../src/compile/inputs.js";

const UPLINKS = `version: 1
uplinks:
  - name: isp1
    interface: eth1
    gateway: 203.0.113.1
    gateway6: 2001:db8:1::1
    weight: 3
  - name: isp2
    interface: eth2
    gateway: 192.0.2.1
    weight: 1
  - name: lte
    interface: wwan0
    gateway: 100.64.0.1
    gateway6: 2001:db8:3::1
    tier: 2
    returnTraffic: none
`;

const POLICY = (body: string) => `${UPLINKS}outbound:
  - name: lan
${body}`;

const nftOf = (text: string, down: string[] = []) => {
  const { desired, warnings } = compile(mustLoad(text), noFacts(), {}, inputsOf({ uplinksDown: new Set(down) }));
  return { text: tableText(desired.nft!), desired, warnings };
};
const draws = (text: string) => text.split("\n").filter((l) => /vmap \{ [0-9]+(-[0-9]+)? : /.test(l)).map((l) => l.trim().replace(/ comment .*/, ""));

describe("outbound config", () => {
  it("defaults: weight 1, tier 1, all uplinks, sticky connection, masquerade on", () => {
    const r = mustLoad(`${UPLINKS.replace("    weight: 3\n", "")}outbound:\n  - name: lan\n    from: [10.10.0.0/24]\n`);
    expect(r.config.uplinks[0].weight).toBe(1);
    expect(r.config.uplinks[0].tier).toBe(1);
    expect(r.config.outbound[0]).toEqual({ name: "lan", from: ["10.10.0.0/24"], sticky: "connection", masquerade: true });
  });

  it("an unknown uplink, a missing gateway6 for an IPv6 prefix, an empty from, a duplicate name", () => {
    expect(mustFail(POLICY("    from: [10.10.0.0/24]\n    uplinks: [isp1, isp9]\n"))).toEqual([
      "test.yaml:21:21: outbound[0].uplinks[1]: no uplink named 'isp9' (known: isp1, isp2, lte)",
    ]);
    expect(mustFail(POLICY("    from: [10.10.0.0/24, fd10::/64]\n    uplinks: [isp1, isp2]\n"))).toEqual([
      "test.yaml:21:21: outbound[0].uplinks[1]: uplink isp2 has no gateway6, but from has IPv6 prefixes",
    ]);
    expect(mustFail(POLICY("    from: [fd10::/64]\n"))[0]).toMatch(/^test\.yaml:19:5: outbound\[0\]: uplink isp2 has no gateway6, but from has IPv6 prefixes$/);
    expect(mustFail(POLICY("    from: []\n"))[0]).toMatch(/^test\.yaml:20:11: outbound\[0\]\.from: /);
    expect(mustFail(POLICY("    uplinks: [isp1]\n"))[0]).toBe("test.yaml:19:5: outbound[0].from: required field is missing (expected a list)");
    expect(mustFail(POLICY("    from: [10.10.0.0/24]\n  - name: lan\n    from: [10.20.0.0/24]\n"))).toEqual(["test.yaml:21:11: outbound[1].name: duplicate outbound name 'lan'"]);
  });

  it("bad weights, tiers, sticky and prefixes", () => {
    expect(mustFail(UPLINKS.replace("weight: 3", "weight: 0"))[0]).toMatch(/uplinks\[0\]\.weight: /);
    expect(mustFail(UPLINKS.replace("weight: 3", "weight: 1001"))[0]).toMatch(/uplinks\[0\]\.weight: /);
    expect(mustFail(UPLINKS.replace("tier: 2", "tier: 101"))[0]).toMatch(/uplinks\[2\]\.tier: /);
    expect(mustFail(UPLINKS.replace("weight: 3", "weight: 1.5"))[0]).toMatch(/uplinks\[0\]\.weight: /);
    expect(mustFail(POLICY("    from: [10.10.0.0/24]\n    sticky: flow\n"))[0]).toMatch(/outbound\[0\]\.sticky: /);
    expect(mustFail(POLICY("    from: [10.10.0.1/24]\n"))).toEqual(["test.yaml:20:12: outbound[0].from[0]: 10.10.0.1/24 has host bits set; write the network address"]);
    expect(mustFail(POLICY("    from: [10.10.0.0/24]\n    uplinks: []\n"))[0]).toMatch(/outbound\[0\]\.uplinks: must name at least one uplink/);
    expect(mustFail(POLICY("    from: [10.10.0.0/24]\n    uplinks: [isp1, isp1]\n"))[0]).toMatch(/outbound\[0\]\.uplinks\[1\]: uplink isp1 is listed twice/);
  });
});

describe("outbound compile", () => {
  const LAN = POLICY("    from: [10.10.0.0/24]\n");

  it("weights 3:1 become ranges 0-2 and 3 of numgen random mod 4, forwarded and local", () => {
    expect(draws(nftOf(LAN).text)).toEqual([
      'iifname != { "eth1", "eth2", "wwan0" } ct state new ct mark & 0x00ff0000 == 0x00000000 ip saddr 10.10.0.0/24 numgen random mod 4 vmap { 0-2 : jump outbound_lan_isp1, 3 : jump outbound_lan_isp2 }',
      "ct state new ct mark & 0x00ff0000 == 0x00000000 ip saddr 10.10.0.0/24 numgen random mod 4 vmap { 0-2 : jump outbound_lan_isp1, 3 : jump outbound_lan_isp2 }",
    ]);
  });

  it("sticky source hashes the source address per family with a fixed seed", () => {
    const text = nftOf(POLICY("    from: [10.10.0.0/24, fd10::/64]\n    uplinks: [isp1, lte]\n    sticky: source\n")).text;
    const lines = draws(text);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/ip saddr 10\.10\.0\.0\/24 jhash ip saddr mod 3 seed 0x[0-9a-f]+ vmap \{ 0-2 : jump outbound_lan_isp1 \}$/);
    expect(lines[1]).toMatch(/ip6 saddr fd10::\/64 jhash ip6 saddr mod 3 seed 0x[0-9a-f]+ vmap \{ 0-2 : jump outbound_lan_isp1 \}$/);
    expect(nftOf(POLICY("    from: [10.10.0.0/24, fd10::/64]\n    uplinks: [isp1, lte]\n    sticky: source\n")).text).toBe(text);
  });

  it("a down uplink leaves its tier; a dead tier hands over to the next one; all down marks nothing", () => {
    expect(draws(nftOf(LAN, ["isp1"]).text)[0]).toMatch(/numgen random mod 1 vmap \{ 0 : jump outbound_lan_isp2 \}$/);
    const both = nftOf(LAN, ["isp1", "isp2"]);
    expect(draws(both.text)[0]).toMatch(/numgen random mod 1 vmap \{ 0 : jump outbound_lan_lte \}$/);
    expect(both.warnings).toContain("outbound lan: uplinks isp1, isp2 down; new connections by lte");
    const all = nftOf(LAN, ["isp1", "isp2", "lte"]);
    expect(draws(all.text)).toEqual([]);
    expect(all.warnings).toContain("outbound lan: uplinks isp1, isp2, lte down; new connections by the main table (no uplink is live)");
    // the rest stays: marks of established connections are still restored, masquerade still applies
    expect(all.text).toContain("jump uplink_reply_lte");
    expect(all.text).toContain('oifname "eth1" ip saddr 10.10.0.0/24 masquerade');
  });

  it("an interface that is down in the facts counts as a down uplink", () => {
    const facts = { links: { eth1: { up: false, addresses: [] }, eth2: { up: true, addresses: ["192.0.2.31/24"] }, wwan0: { up: true, addresses: [] } }, rpFilter: {} } as unknown as ReturnType<typeof noFacts>;
    const { desired } = compile(mustLoad(LAN), facts);
    expect(draws(tableText(desired.nft!))[0]).toMatch(/vmap \{ 0 : jump outbound_lan_isp2 \}$/);
  });

  it("every outbound uplink gets its fwmark rule and its mark restored, also without connmark", () => {
    const { desired } = nftOf(LAN);
    const lte = desired.rules.filter((r) => r.fwmark === 0x30000);
    expect(lte.map((r) => r.family)).toEqual([4, 6]);
    const text = tableText(desired.nft!);
    expect(text).toContain('iifname != { "eth1", "eth2", "wwan0" } ct mark & 0x00ff0000 vmap { 0x00010000 : jump uplink_reply_isp1, 0x00020000 : jump uplink_reply_isp2, 0x00030000 : jump uplink_reply_lte }');
    expect(text).not.toContain("uplink_in_lte");
    // one restore rule per hook, not one per policy
    expect(text.split("\n").filter((l) => l.includes("jump uplink_reply_isp1")).length).toBe(2);
  });

  it("masquerade: false leaves out the NAT rules; the choice changes only the draw when an uplink goes down", () => {
    expect(nftOf(POLICY("    from: [10.10.0.0/24]\n    masquerade: false\n")).text).not.toContain("masquerade");
    const up = nftOf(LAN).text.split("\n");
    const down = nftOf(LAN, ["isp1"]).text.split("\n");
    expect(up.length).toBe(down.length);
    expect(up.filter((l, i) => l !== down[i]).length).toBe(2);
  });

  it("from 0.0.0.0/0 matches the family, and iptables rendering leaves the draw out with a note", () => {
    const { text, desired } = nftOf(POLICY("    from: [0.0.0.0/0]\n"));
    expect(draws(text)[1]).toMatch(/^ct state new ct mark & 0x00ff0000 == 0x00000000 meta nfproto ipv4 numgen/);
    const ipt = render(desired, "iptables");
    expect(ipt).toContain("# outbound policies choose uplinks with nft numgen/jhash maps");
    expect(ipt).not.toContain("numgen random");
  });
});
