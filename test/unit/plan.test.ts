import { describe, expect, it } from "vitest";
import { compile } from "../../src/compile/index.js";
import { isEmptyPlan, makePlan, nftDesiredText } from "../../src/plan/plan.js";
import { emptyDesired } from "../../src/model/desired.js";
import { formatPlan } from "../../src/plan/format.js";
import { mustLoad, TWO_UPLINKS } from "../helpers/config.js";
import { liveAfterApply } from "../helpers/fakeKernel.js";
import type { LiveState } from "../../src/plan/live.js";

const FACTS = { links: { eth1: { addresses: ["203.0.113.8/24"] }, eth2: { addresses: ["192.0.2.31/24"] } }, rpFilter: { all: 0, eth1: 0, eth2: 1 } };
const empty: LiveState = { rules: [], routes: [], nft: null, sysctls: { "net/ipv4/conf/eth1/rp_filter": "0", "net/ipv4/conf/eth2/rp_filter": "1" }, interfaces: ["eth1", "eth2"] };

describe("plan", () => {
  const resolved = mustLoad(TWO_UPLINKS);
  const { desired } = compile(resolved, FACTS);

  it("on an empty kernel adds everything and creates the nft table", () => {
    const plan = makePlan({ desired, live: empty, applied: null, sysctlOriginals: {}, priorities: resolved.priorities });
    expect(plan.rules.add).toHaveLength(desired.rules.length);
    expect(plan.routes.add).toHaveLength(desired.routes.length);
    expect(plan.nft.action).toBe("create");
    expect(plan.sysctls.map((s) => `${s.key}:${s.from}->${s.to}`)).toEqual(["net/ipv4/conf/eth1/rp_filter:0->2", "net/ipv4/conf/eth2/rp_filter:1->2"]);
    expect(formatPlan(plan)).toContain("+ rule -4 pref 1000 from 203.0.113.8 lookup 1000");
  });

  it("after apply is empty", () => {
    const live = liveAfterApply(desired);
    const applied = { nftDesired: nftDesiredText(desired.nft), nftLive: JSON.stringify(live.nft) };
    expect(isEmptyPlan(makePlan({ desired, live, applied, sysctlOriginals: {}, priorities: resolved.priorities }))).toBe(true);
  });

  it("never removes or changes foreign objects, and reports the ones in its way", () => {
    const foreignRule = { value: { family: 4 as const, priority: 1500, table: 77, src: "10.0.0.1" }, protocol: 0 };
    const foreignRoute = { value: { family: 4 as const, table: 1000, dst: "10.0.0.0/8", dev: "eth1" }, protocol: 4 };
    const mainRoute = { value: { family: 4 as const, table: 254, dst: "default", gateway: "203.0.113.1", dev: "eth1" }, protocol: 4 };
    const live = liveAfterApply(emptyDesired(), { rules: [foreignRule], routes: [foreignRoute, mainRoute] });
    const plan = makePlan({ desired, live, applied: null, sysctlOriginals: {}, priorities: resolved.priorities });
    expect(plan.rules.remove).toEqual([]);
    expect(plan.routes.remove).toEqual([]);
    expect(plan.conflicts).toEqual([
      "foreign rule in symroute's priority range: -4 pref 1500 from 10.0.0.1 lookup 77",
      "foreign route in table 1000 that symroute uses: -4 table 1000 10.0.0.0/8 metric 0 dev eth1",
    ]);
  });

  it("to an empty desired state removes what symroute owns and restores sysctl originals", () => {
    const live = liveAfterApply(desired);
    const plan = makePlan({ desired: emptyDesired(), live, applied: null, sysctlOriginals: { "net/ipv4/conf/eth2/rp_filter": "1" }, priorities: resolved.priorities });
    expect(plan.rules.remove).toHaveLength(desired.rules.length);
    expect(plan.routes.remove).toHaveLength(desired.routes.length);
    expect(plan.nft.action).toBe("delete");
    expect(plan.sysctls).toEqual([{ key: "net/ipv4/conf/eth2/rp_filter", from: "2", to: "1", restore: true, why: "value from before symroute" }]);
  });

  it("changes a route in place when only its gateway moves", () => {
    const live = liveAfterApply(desired);
    const moved = compile(mustLoad(TWO_UPLINKS.replace("gateway: 192.0.2.1", "gateway: 192.0.2.254")), FACTS).desired;
    const plan = makePlan({ desired: moved, live, applied: null, sysctlOriginals: {}, priorities: resolved.priorities });
    expect(plan.routes.change).toHaveLength(1);
    expect(plan.routes.change[0].to.gateway).toBe("192.0.2.254");
    expect(plan.routes.add).toEqual([]);
    expect(plan.routes.remove).toEqual([]);
  });
});
