/**
 * Conflicts block only themselves: a foreign rule at the priority of a rule
 * symroute would add holds back that rule alone, a foreign route in a slot
 * symroute would fill holds back that route alone; every other change of the
 * plan stays, and with the foreign objects gone the held changes come back.
 */
import { describe, expect, it } from "vitest";
import { compile } from "../../src/compile/index.js";
import { isEmptyPlan, makePlan, nftDesiredText } from "../../src/plan/plan.js";
import { formatPlan, planSummary } from "../../src/plan/format.js";
import { ruleKey } from "../../src/model/rule.js";
import { mustLoad, TWO_UPLINKS } from "../helpers/config.js";
import { liveAfterApply } from "../helpers/fakeKernel.js";
import { classifyEvent, heldDestinations } from "../../src/daemon/events.js";

const FACTS = { links: { eth1: { addresses: ["203.0.113.8/24"] }, eth2: { addresses: ["192.0.2.31/24"] } }, rpFilter: { all: 0, eth1: 0, eth2: 1 } };

describe("plan with conflicts", () => {
  const resolved = mustLoad(TWO_UPLINKS);
  const { desired } = compile(resolved, FACTS);
  const [ruleA, ruleB] = desired.rules.filter((r) => r.family === 4);
  const applied = { nftDesired: nftDesiredText(desired.nft), nftLive: null };
  const planOf = (live: ReturnType<typeof liveAfterApply>, holdConflicts?: boolean) =>
    makePlan({ desired, live, applied: { ...applied, nftLive: JSON.stringify(live.nft) }, sysctlOriginals: {}, priorities: resolved.priorities, holdConflicts });
  // two owned rules deleted; a foreign rule sits at B's priority
  const without = (keys: string[]) => {
    const live = liveAfterApply(desired);
    live.rules = live.rules.filter((r) => !keys.includes(ruleKey(r.value)));
    return live;
  };
  const foreign = { value: { family: 4 as const, priority: ruleB.priority, table: 254, src: "10.99.0.1" }, protocol: 0 };

  it("a foreign rule at a priority holds back only the rule of that priority; the other deleted rule is restored", () => {
    expect(ruleA.priority).not.toBe(ruleB.priority);
    const live = without([ruleKey(ruleA), ruleKey(ruleB)]);
    live.rules.push(foreign);
    const plan = planOf(live);
    expect(plan.conflicts).toEqual([`foreign rule in symroute's priority range: -4 pref ${ruleB.priority} from 10.99.0.1 lookup 254`]);
    expect(plan.rules.add).toEqual([ruleA]);
    expect(plan.held.rules).toEqual([ruleB]);
    expect(plan.rules.remove).toEqual([]);
    expect(formatPlan(plan)).toContain(`! held: rule ${ruleKey(ruleB)}`);
    expect(planSummary(plan)).toContain("1 conflicts (1 held)");
  });

  it("after applying around it, the plan writes nothing while the foreign rule stays, and adds the held rule once it goes", () => {
    const around = without([ruleKey(ruleB)]);
    around.rules.push(foreign);
    const stays = planOf(around);
    expect(isEmptyPlan(stays)).toBe(true);
    expect(stays.held.rules).toEqual([ruleB]);
    expect(formatPlan(stays)).toContain("Nothing to change until the conflicts below are gone");
    const gone = planOf(without([ruleKey(ruleB)]));
    expect(gone.conflicts).toEqual([]);
    expect(gone.rules.add).toEqual([ruleB]);
    expect(gone.held.rules).toEqual([]);
    expect(isEmptyPlan(planOf(liveAfterApply(desired)))).toBe(true);
  });

  it("a foreign rule elsewhere in the range holds nothing back, and an owned rule at its priority is never removed", () => {
    const live = liveAfterApply(desired);
    live.rules.push({ ...foreign, value: { ...foreign.value, priority: 1999 } });
    const plan = planOf(live);
    expect(plan.conflicts).toHaveLength(1);
    expect(plan.held).toEqual({ rules: [], routes: [] });
    const beside = liveAfterApply(desired);
    beside.rules.push(foreign);
    expect(isEmptyPlan(planOf(beside))).toBe(true);
  });

  it("a foreign route where symroute adds one holds back that route only", () => {
    const [routeA, routeB] = desired.routes;
    const live = liveAfterApply(desired);
    live.routes = live.routes.filter((r) => r.value !== routeA && r.value !== routeB);
    live.routes.push({ value: { ...routeB, gateway: undefined, dev: "eth9", why: undefined }, protocol: 4 });
    const plan = planOf(live);
    expect(plan.routes.add).toEqual([routeA]);
    expect(plan.held.routes).toEqual([routeB]);
    expect(plan.conflicts).toHaveLength(1);
  });

  it("rollback's plan (holdConflicts: false) keeps every change", () => {
    const live = without([ruleKey(ruleB)]);
    live.rules.push(foreign);
    const plan = planOf(live, false);
    expect(plan.rules.add).toEqual([ruleB]);
    expect(plan.held.rules).toEqual([]);
  });
});

describe("the daemon's watch while a route is held", () => {
  it("a foreign route leaving a held route's place (in main, outside the watched tables) is an event; others stay ignored", () => {
    const scope = { tables: new Set([1000]), interfaces: new Set(["eth1"]), held: heldDestinations([{ dst: "198.51.100.0/24" }, { dst: "198.51.100.7/32" }]) };
    expect(classifyEvent("ip", "Deleted 198.51.100.0/24 via 192.0.2.1 dev eth2 proto static", scope)).toBe("route");
    expect(classifyEvent("ip", "Deleted 198.51.100.7 via 192.0.2.1 dev eth2 proto static", scope)).toBe("route");
    expect(classifyEvent("ip", "Deleted 10.9.0.0/16 via 192.0.2.1 dev eth2 proto static", scope)).toBeNull();
    expect(classifyEvent("ip", "Deleted 198.51.100.0/24 via 192.0.2.1 dev eth2 proto static", { ...scope, held: new Set<string>() })).toBeNull();
  });
});
