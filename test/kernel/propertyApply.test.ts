/**
 * The law behind every apply, on a real kernel: generated configs (uplinks
 * with every rpFilter and returnTraffic mode, services of each strategy, a
 * load balancer of changing targets) applied one after another to one
 * namespace, under rp_filter 0, 1 and 2 and forwarding preset: each apply
 * holds, the plan right after is empty, and destroy at the end of each
 * profile puts the host back byte for byte. Not a copy compared with itself.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { stringify } from "yaml";
import { Lab } from "../../src/lab/lab.js";
import { loadConfigText } from "../../src/config/load.js";
import { destroy, planConfig, reconcile } from "../../src/engine/index.js";
import { isEmptyPlan } from "../../src/plan/plan.js";
import { formatPlan } from "../../src/plan/format.js";
import { isRoot, kernelSnapshot } from "../helpers/kernel.js";
import { profileSysctls, touchableSysctls, type HostProfile } from "../helpers/hostFor.js";

const UPLINKS = [1, 2, 3].map((n) => ({ name: `isp${n}`, interface: `eth${n}`, gateway: `10.1.${n}.1`, gateway6: `fd01:${n}::1` }));
const TARGETS = [1, 2, 3, 4, 5, 6].map((n) => ({ name: `t${n}`, via: `172.16.0.${10 + n}`, via6: `fd00::${10 + n}`, interface: n % 2 ? "conduit-a" : "conduit-b" }));

const uplink = fc.record({
  pick: fc.integer({ min: 0, max: 2 }),
  v6: fc.boolean(),
  returnTraffic: fc.constantFrom("connmark", "none"),
  rpFilter: fc.constantFrom("loose", "strict", "off", "keep"),
});
const service = fc.record({
  addresses: fc.uniqueArray(fc.constantFrom("198.51.100.1", "198.51.100.2", "198.51.100.3", "2001:db8:5::1", "2001:db8:5::2"), { minLength: 1, maxLength: 2 }),
  uplink: fc.integer({ min: 0, max: 2 }),
  strategy: fc.constantFrom("source", "mark", "static"),
});
const balancer = fc.record({
  targets: fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 5 }),
  v6: fc.boolean(),
  assignment: fc.constantFrom("maglev", "stable"),
  egress: fc.boolean(),
});
const generated = fc.record({
  uplinks: fc.uniqueArray(uplink, { maxLength: 3, selector: (u) => u.pick }),
  services: fc.array(service, { maxLength: 3 }),
  balancer: fc.option(balancer, { nil: undefined }),
});

type Generated = typeof generated extends fc.Arbitrary<infer T> ? T : never;

/** Turns a generated shape into config text. */
function configText(g: Generated): string {
  const uplinks = g.uplinks.map((u) => {
    const base = UPLINKS[u.pick];
    return { name: base.name, interface: base.interface, gateway: base.gateway, ...(u.v6 ? { gateway6: base.gateway6 } : {}), returnTraffic: u.returnTraffic, rpFilter: u.rpFilter };
  });
  const services = uplinks.length
    ? g.services.map((s, i) => ({
        name: `s${i}`,
        addresses: s.addresses,
        uplink: uplinks[s.uplink % uplinks.length].name,
        strategy: s.strategy,
        ...(s.strategy === "static" ? { clients: ["10.9.0.0/24"] } : {}),
      }))
    : [];
  const config: Record<string, unknown> = { version: 1, uplinks, services };
  if (g.balancer) {
    const b = g.balancer;
    config.loadBalancers = [
      {
        name: "lb",
        vips: b.v6 ? ["20.0.0.1", "2000::1"] : ["20.0.0.1"],
        assignment: b.assignment,
        flows: [{ name: "tcp", priority: 1, protocols: ["tcp"], destinationPorts: ["4000"] }],
        targets: b.targets.map((t) => (b.v6 ? TARGETS[t] : { ...TARGETS[t], via6: undefined })).map((t) => JSON.parse(JSON.stringify(t)) as object),
        ...(b.egress ? { egress: { gateway: "169.254.100.150", interface: "ext0", table: 4096 } } : {}),
      },
    ];
  }
  return stringify(config);
}

const PER_PROFILE = Number(process.env.PROPERTY_APPLY_RUNS ?? 60);
const profiles: HostProfile[] = [
  { rp: 0, presets: false },
  { rp: 1, presets: false },
  { rp: 2, presets: false },
  { rp: 2, presets: true },
];

describe.skipIf(!isRoot)("generated configs on a real kernel", () => {
  const lab = new Lab("pa");
  beforeAll(async () => {
    await lab.addHosts("h", "peer");
    const devs = ["eth1", "eth2", "eth3", "conduit-a", "conduit-b", "ext0"];
    for (const [i, dev] of devs.entries()) await lab.link("h", dev, "peer", `p${i}`);
    for (const n of [1, 2, 3]) await lab.addr("h", `eth${n}`, `10.1.${n}.8/24`, `fd01:${n}::8/64`);
    await lab.addr("h", "conduit-a", "172.16.0.1/24", "fd00::1/64");
    await lab.addr("h", "conduit-b", "172.16.0.2/24", "fd00::2/64");
    await lab.addr("h", "ext0", "169.254.100.1/24");
  });
  afterAll(async () => {
    await destroy({ netns: lab.ns("h") }).catch(() => undefined);
    await lab.teardown();
  });

  for (const profile of profiles) {
    it(`rp_filter ${profile.rp}${profile.presets ? " with forwarding preset" : ""}: ${PER_PROFILE} generated configs in a row each apply and plan to nothing; destroy restores the host`, async () => {
      const netns = lab.ns("h");
      await lab.exec("h", ["sysctl", "-q", "-w", ...profileSysctls(profile)]);
      for (const dev of ["eth1", "eth2", "eth3", "conduit-a", "conduit-b", "ext0"]) await lab.exec("h", ["sysctl", "-q", "-w", `net/ipv4/conf/${dev}/rp_filter=${profile.rp}`]);
      const sysBefore = await touchableSysctls(lab, "h");
      const kernelBefore = await kernelSnapshot(lab, "h");
      const samples = fc.sample(generated, { numRuns: PER_PROFILE * 3, seed: 97 + profile.rp * 7 + (profile.presets ? 1 : 0) });
      let applied = 0;
      let invalid = 0;
      for (const g of samples) {
        if (applied >= PER_PROFILE) break;
        const text = configText(g);
        const loaded = loadConfigText(text, "gen.yaml");
        if (!loaded.ok) {
          invalid += 1;
          continue;
        }
        const r = await reconcile({ netns, load: () => loaded.value });
        expect(r.outcome.rolledBack, `apply of\n${text}\n${JSON.stringify(r.outcome.rolledBack)}`).toBeUndefined();
        const { plan } = await planConfig(() => loaded.value, { netns });
        expect(isEmptyPlan(plan), `plan after apply of\n${text}\n${formatPlan(plan)}`).toBe(true);
        applied += 1;
      }
      expect(applied).toBe(PER_PROFILE);
      expect((await destroy({ netns })).outcome.rolledBack).toBeUndefined();
      expect(await touchableSysctls(lab, "h")).toBe(sysBefore);
      expect(await kernelSnapshot(lab, "h")).toBe(kernelBefore);
      console.log(`rp_filter ${profile.rp} presets ${profile.presets}: ${applied} applied with empty plans, ${invalid} generated configs refused by validation`);
    }, 300_000);
  }
});
