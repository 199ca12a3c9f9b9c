/**
 * Recorder tier: what apply sends, exactly. A recording runner stands in for
 * the kernel, so the nft JSON and the ip batches can be compared word for word.
 */
import { describe, expect, it } from "vitest";
import { RecordingRunner, CommandError } from "../../src/kernel/runner.js";
import { executePlan, StepError } from "../../src/apply/execute.js";
import { compile } from "../../src/compile/index.js";
import { makePlan } from "../../src/plan/plan.js";
import { mustLoad } from "../helpers/config.js";

const CONFIG = `version: 1
uplinks:
  - name: isp1
    interface: eth1
    gateway: 203.0.113.1
    gateway6: 2001:db8:1::1
    addresses: [203.0.113.8/24]
services:
  - name: web
    addresses: [198.51.100.80]
    uplink: isp1
    strategy: mark
`;

function planFor() {
  const resolved = mustLoad(CONFIG);
  const { desired } = compile(resolved, { links: {}, rpFilter: {} });
  return makePlan({ desired, live: { rules: [], routes: [], nft: null, sysctls: { "net/ipv4/conf/eth1/rp_filter": "0" }, interfaces: ["eth1"] }, applied: null, sysctlOriginals: {}, priorities: resolved.priorities });
}

describe("apply sends", () => {
  it("one nft transaction, one batch per family, one sysctl call, in that order", async () => {
    const rec = new RecordingRunner(() => ({ code: 0, stdout: "", stderr: "" }));
    await executePlan(rec, planFor());
    expect(rec.calls.map((c) => c.argv.join(" "))).toEqual(["nft -j -f -", "ip -4 -batch -", "ip -6 -batch -", "sysctl -q -w net/ipv4/conf/eth1/rp_filter=2"]);
    const nft = JSON.parse(rec.calls[0].stdin!);
    expect(nft.nftables.slice(0, 3)).toEqual([
      { add: { table: { family: "inet", name: "symroute" } } },
      { delete: { table: { family: "inet", name: "symroute" } } },
      { add: { table: { family: "inet", name: "symroute" } } },
    ]);
    const markRule = nft.nftables.find((c: { add?: { rule?: { comment?: string } } }) => c.add?.rule?.comment === "services pinned to isp1");
    expect(markRule.add.rule.expr).toEqual([
      { match: { op: "==", left: { payload: { protocol: "ip", field: "saddr" } }, right: "198.51.100.80" } },
      { mangle: { key: { meta: { key: "mark" } }, value: { "|": [{ "&": [{ meta: { key: "mark" } }, 0xff00ffff] }, 0x10000] } } },
    ]);
    expect(rec.calls[1].stdin).toBe(
      [
        "route add default via 203.0.113.1 dev eth1 table 1000 proto 97",
        "route add 203.0.113.0/24 dev eth1 scope link table 1000 proto 97",
        "rule add priority 1000 from 203.0.113.8 table 1000 protocol 97",
        "rule add priority 1001 from all fwmark 0x10000/0xff0000 table 1000 protocol 97",
        "",
      ].join("\n"),
    );
    expect(rec.calls[2].stdin).toBe(
      ["route add default via 2001:db8:1::1 dev eth1 table 1000 proto 97", "rule add priority 1002 from all fwmark 0x10000/0xff0000 table 1000 protocol 97", ""].join("\n"),
    );
  });

  it("stops at the first failing step and names it", async () => {
    const rec = new RecordingRunner((argv) => (argv.includes("-6") ? { code: 2, stdout: "", stderr: "RTNETLINK answers: No such device" } : { code: 0, stdout: "", stderr: "" }));
    const err = await executePlan(rec, planFor()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).step).toBe("ip6");
    expect((err as StepError).failure).toBeInstanceOf(CommandError);
    expect(rec.calls.map((c) => c.argv[0] + " " + c.argv[1])).toEqual(["nft -j", "ip -4", "ip -6"]);
  });

  it("config strings reach nft only as JSON values", async () => {
    const rec = new RecordingRunner(() => ({ code: 0, stdout: "", stderr: "" }));
    await executePlan(rec, planFor());
    const nftText = rec.calls[0].stdin!;
    expect(() => JSON.parse(nftText)).not.toThrow();
    expect(nftText).toContain('"right":"eth1"');
  });
});
