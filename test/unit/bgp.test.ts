/**
 * Issue 13, pure: the bgp section's errors (located like the rest of the
 * schema), which VIPs are ready, and the BIRD file (golden, and parsed by
 * `bird -p` where BIRD is installed).
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mustFail, mustLoad } from "../helpers/config.js";
import { renderBird, bgpSettingsOf } from "../../src/bgp/bird.js";
import { renderBirdForUsers } from "../../src/bgp/render.js";
import { renderRouterBird } from "../../src/bgp/router.js";
import { vipReadiness, vipsOf } from "../../src/bgp/ready.js";
import { parseProtocols } from "../../src/kernel/bird.js";
import { frontendConfig } from "../../src/lab/scaleOut.js";

const root = join(import.meta.dirname, "..", "..");
const example = readFileSync(join(root, "examples", "scale-out.yaml"), "utf8");
const LB = `version: 1
loadBalancers:
  - name: web
    vips: [20.0.0.1, "2000::1"]
    flows: [{ name: tcp, priority: 1, protocols: [tcp], destinationPorts: ["80"] }]
    targets:
      - { name: a, via: 172.16.0.6, via6: "fd00::6", interface: back, check: { tcp: 80 } }
      - { name: b, via: 172.16.0.8, via6: "fd00::8", interface: back, check: { tcp: 80 } }
`;
const withBgp = (bgp: string) => `${LB}bgp:\n${bgp}`;

function golden(name: string, actual: string): void {
  const path = join(root, "test", "golden-bird", name);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(path)) {
    if (process.env.UPDATE_GOLDEN !== "1") throw new Error(`${path} missing: run with UPDATE_GOLDEN=1 and check it by hand`);
    writeFileSync(path, actual);
  }
  expect(actual, path).toBe(readFileSync(path, "utf8"));
}

const hasBird = spawnSync("bird", ["--version"], { encoding: "utf8" }).status === 0;
/** `bird -p`: BIRD parses the file and exits. */
function birdParses(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "symroute-bird-")), "bird.conf");
  writeFileSync(file, text);
  const r = spawnSync("bird", ["-p", "-c", file], { encoding: "utf8" });
  return r.status === 0 ? "ok" : r.stderr + r.stdout;
}

describe("bgp config", () => {
  it("the example loads, and the lab's frontend 1 is the example", () => {
    const ex = mustLoad(example, "scale-out.yaml").config;
    expect(ex.bgp).toEqual({ routerId: "10.1.1.2", asn: 65001, neighbors: [{ address: "10.1.1.1", asn: 65000, bfd: true }], bfd: { interval: "100ms", multiplier: 3 }, speaker: "managed", withdrawWait: "2s" });
    const lab = mustLoad(frontendConfig(1)).config;
    expect(lab.bgp).toEqual(ex.bgp);
    expect(lab.loadBalancers).toEqual(ex.loadBalancers);
  });

  it("defaults: BFD on, 100 ms x 3, a managed speaker", () => {
    const c = mustLoad(withBgp("  routerId: 10.0.0.1\n  asn: 65001\n  neighbors: [{ address: 10.0.0.254, asn: 65000 }]\n")).config;
    expect(c.bgp).toEqual({ routerId: "10.0.0.1", asn: 65001, neighbors: [{ address: "10.0.0.254", asn: 65000, bfd: true }], bfd: { interval: "100ms", multiplier: 3 }, speaker: "managed", withdrawWait: "2s" });
  });

  it("names file, line and field of each wrong value, all at once", () => {
    const errs = mustFail(
      withBgp(`  routerId: "2001:db8::1"
  asn: 0
  neighbors:
    - { address: 10.0.0.300, asn: 4294967296 }
    - { address: 10.0.0.254, asn: 65000, bfd: maybe }
  bfd: { interval: 5ms, multiplier: 1 }
  speaker: bird
`),
    );
    expect(errs).toEqual([
      expect.stringMatching(/^test\.yaml:10:13: bgp\.routerId: must be an IPv4 address/),
      expect.stringMatching(/^test\.yaml:11:8: bgp\.asn: must be /),
      expect.stringMatching(/^test\.yaml:13:18: bgp\.neighbors\[0\]\.address: /),
      expect.stringMatching(/^test\.yaml:13:35: bgp\.neighbors\[0\]\.asn: must be an AS number 1-4294967295, got 4294967296/),
      expect.stringMatching(/^test\.yaml:14:47: bgp\.neighbors\[1\]\.bfd: expected true or false/),
      expect.stringMatching(/^test\.yaml:15:20: bgp\.bfd\.interval: must be at least 10ms/),
      expect.stringMatching(/^test\.yaml:15:37: bgp\.bfd\.multiplier: must be at least 2/),
      expect.stringMatching(/^test\.yaml:16:12: bgp\.speaker: must be one of "managed", "external"/),
    ]);
  });

  it("refuses a neighbour listed twice, the speaker's own address, and strings that could reach BIRD's parser", () => {
    const errs = mustFail(withBgp(`  routerId: 10.0.0.1\n  asn: 65001\n  neighbors:\n    - { address: 10.0.0.254, asn: 65000 }\n    - { address: 10.0.0.254, asn: 65000 }\n    - { address: 10.0.0.1, asn: 65000 }\n`));
    expect(errs).toEqual([
      expect.stringMatching(/bgp\.neighbors\[1\]\.address: neighbour 10\.0\.0\.254 is listed twice/),
      expect.stringMatching(/bgp\.neighbors\[2\]\.address: neighbour 10\.0\.0\.1 is this speaker's own router id/),
    ]);
    for (const bad of ['10.0.0.1; protocol kernel { ipv4 { export all; }; }', "10.0.0.1\n}"]) {
      const e = mustFail(withBgp(`  routerId: ${JSON.stringify(bad)}\n  asn: 65001\n  neighbors: [{ address: 10.0.0.254, asn: 65000 }]\n`));
      expect(e).toEqual([expect.stringMatching(/bgp\.routerId: must be an IPv4 address/)]);
    }
    const p = mustFail(withBgp(`  routerId: 10.0.0.1\n  asn: 65001\n  neighbors: [{ address: 10.0.0.254, asn: 65000 }]\n  birdConfig: "/etc/bird/x.conf\\";"\n`));
    expect(p).toEqual([expect.stringMatching(/bgp\.birdConfig: must be an absolute path/)]);
  });
});

describe("readiness", () => {
  const c = mustLoad(withBgp("  routerId: 10.0.0.1\n  asn: 65001\n  neighbors: [{ address: 10.0.0.254, asn: 65000 }]\n")).config;
  const t = (target: string, state: "up" | "down", answered: number) => ({ balancer: "web", target, state, answered });

  it("not before the ruleset is applied, nor before a target answered", () => {
    expect(vipReadiness(c, null, [t("a", "up", 5)]).get("20.0.0.1")).toBe(false);
    expect(vipReadiness(c, c, [t("a", "up", 0), t("b", "up", 0)]).get("20.0.0.1")).toBe(false);
    expect(vipReadiness(c, c, [t("a", "up", 0), t("b", "up", 1)]).get("20.0.0.1")).toBe(true);
  });
  it("withdrawn when no target is healthy; a VIP not in the applied config is not ready", () => {
    expect([...vipReadiness(c, c, [t("a", "down", 9), t("b", "down", 9)])]).toEqual([["20.0.0.1", false], ["2000::1", false]]);
    const older = { ...c, loadBalancers: c.loadBalancers.map((lb) => ({ ...lb, vips: ["20.0.0.1"] })) };
    expect([...vipReadiness(c, older, [t("a", "up", 1)])]).toEqual([["20.0.0.1", true], ["2000::1", false]]);
  });
  it("an unchecked target counts as healthy", () => {
    const u = { ...c, loadBalancers: c.loadBalancers.map((lb) => ({ ...lb, targets: lb.targets.map((x) => ({ ...x, check: undefined })) })) };
    expect(vipReadiness(u, u, []).get("20.0.0.1")).toBe(true);
  });
});

describe("BIRD file", () => {
  const c = mustLoad(withBgp("  routerId: 10.0.0.1\n  asn: 65001\n  neighbors:\n    - { address: 10.0.0.254, asn: 65000 }\n    - { address: \"fd00::fe\", asn: 65000, bfd: false }\n")).config;
  const bgp = bgpSettingsOf(c.bgp!);

  it("golden: the ready VIPs as blackhole routes exported to the neighbours only; IPv6 VIPs on the IPv6 session", () => {
    golden("frontend-ready.conf", renderBird(bgp, vipsOf(c), new Set(["20.0.0.1", "2000::1"])));
    golden("frontend-none-ready.conf", renderBird(bgp, vipsOf(c), new Set()));
    golden("external.conf", renderBird({ ...bgp, speaker: "external" }, vipsOf(c), new Set(["20.0.0.1"])));
    golden("render-example.conf", renderBirdForUsers(mustLoad(example).config));
    golden("router.conf", renderRouterBird({ routerId: "10.9.0.1", asn: 65000, frontends: [{ name: "fe1", address: "10.1.1.2", asn: 65001 }], bfd: { interval: 100, multiplier: 3 } }));
  });

  it("a VIP not ready is withdrawn by its absence, nothing else changes (the sessions stay up across birdc configure)", () => {
    const on = renderBird(bgp, vipsOf(c), new Set(["20.0.0.1"])).split("\n");
    const off = renderBird(bgp, vipsOf(c), new Set()).split("\n");
    const diff = on.filter((l, i) => l !== off[i]);
    expect(diff).toEqual(["  route 20.0.0.1/32 blackhole;  # web"]);
  });

  it.skipIf(!hasBird)("BIRD 2 parses every file (bird -p)", () => {
    expect(birdParses(renderBird(bgp, vipsOf(c), new Set(["20.0.0.1", "2000::1"])))).toBe("ok");
    expect(birdParses(renderBird(bgp, vipsOf(c), new Set()))).toBe("ok");
    expect(birdParses(`router id 10.0.0.1;\n${renderBird({ ...bgp, speaker: "external" }, vipsOf(c), new Set(["20.0.0.1"]))}`)).toBe("ok");
    expect(birdParses(renderRouterBird({ routerId: "10.9.0.1", asn: 65000, frontends: [{ name: "fe1", address: "10.1.1.2", asn: 65001 }], bfd: { interval: 100, multiplier: 3 } }))).toBe("ok");
  });

  it("parses birdc show protocols", () => {
    const out = `BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
symroute_device Device     ---        up     19:40:10.209  
symroute_n1 BGP        ---        up     19:40:11.114  Established   
symroute_n2 BGP        ---        start  19:40:10.209  Active        Socket: Connection refused
`;
    expect(parseProtocols(out)).toEqual([
      { name: "symroute_device", proto: "Device", state: "up", info: "" },
      { name: "symroute_n1", proto: "BGP", state: "up", info: "Established" },
      { name: "symroute_n2", proto: "BGP", state: "start", info: "Active        Socket: Connection refused" },
    ]);
  });
});
