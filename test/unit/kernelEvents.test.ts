/**
 * The one parser of kernel events (daemon/events.ts), against lines captured
 * from this machine's `ip monitor link address route rule netconf` and `nft
 * monitor` (iproute2 6.1, nftables 1.0.6: `ip -j monitor` prints text, so the
 * lines are parsed here and only here). Each line is a real one; the kinds are
 * what the daemon must make of them with eth1 and table 1000 in its scope.
 */
import { describe, expect, it } from "vitest";
import { classifyEvent, type EventKind } from "../../src/daemon/events.js";

const scope = { tables: new Set([1000]), interfaces: new Set(["eth1"]) };

const CAPTURED: [source: "ip" | "nft", line: string, kind: EventKind | null][] = [
  ["ip", "inet eth1 forwarding off rp_filter off mc_forwarding off proxy_neigh off ignore_routes_with_linkdown off ", "sysctl"],
  ["ip", "inet eth1p forwarding off rp_filter off mc_forwarding off proxy_neigh off ignore_routes_with_linkdown off ", null],
  ["ip", "inet eth1 rp_filter loose ", "sysctl"],
  ["ip", "2: eth1p@NONE: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default ", null],
  ["ip", "3: eth1@eth1p: <NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN> mtu 1500 qdisc noqueue state LOWERLAYERDOWN group default ", "link"],
  ["ip", "3: eth1    inet 203.0.113.8/24 scope global eth1", "address"],
  ["ip", "Deleted 3: eth1    inet 203.0.113.8/24 scope global eth1", "address"],
  ["ip", "1000:\tfrom 203.0.113.8 lookup 1000 proto 97", "rule"],
  ["ip", "Deleted 1000:\tfrom 203.0.113.8 lookup 1000 proto 97", "rule"],
  ["ip", "default via 203.0.113.1 dev eth1 table 1000 proto 97 linkdown ", "route"],
  ["ip", "local 203.0.113.8 dev eth1 table local proto kernel scope host src 203.0.113.8 ", null],
  ["ip", "Deleted 203.0.113.0/24 dev eth1 proto kernel scope link src 203.0.113.8 linkdown ", null],
  ["ip", "10.2.0.0/16 dev lo table 100 proto 97 scope link ", "route"],
  ["nft", "add table inet symroute", "nft"],
  ["nft", "add chain inet symroute pre { type filter hook prerouting priority mangle; policy accept; }", "nft"],
  ["nft", "delete table inet symroute", "nft"],
  ["nft", "# new generation 4 by process 30758 (nft)", null],
  ["nft", "add table inet other", null],
  ["nft", "add table netdev symroute", "nft"],
  ["nft", "delete element inet symroute lb0_t_1a80b1b3_f4 { 10.0.0.1 . 20.0.0.1 . 40000 . 80 }", "nft"],
  // the live trace's own table and a rule whose comment holds the word: not symroute's objects
  ["nft", 'add rule inet symroute_trace pre meta nftrace set 1 comment "symroute_trace: trace --live"', null],
  ["nft", 'add rule inet filter input counter comment "symroute"', null],
  ["nft", "trace id 3a1b2c4d inet symroute lb_prerouting packet: iif \"eth1\" ip saddr 10.0.0.1", null],
];

describe("kernel events, from captured lines", () => {
  it.each(CAPTURED)("%s: %s", (source, line, kind) => {
    expect(classifyEvent(source, line, scope)).toBe(kind);
  });
});

describe("the daemon's watch scope", () => {
  it("takes in a fast path's ingress interfaces: one deleted and made again is news (its netdev hook went with it)", async () => {
    const { readFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { mustLoad } = await import("../helpers/config.js");
    const { watchScope } = await import("../../src/daemon/events.js");
    // a second ingress interface that nothing else in the file names
    const text = readFileSync(join(import.meta.dirname, "..", "..", "examples", "load-balancer-fastpath.yaml"), "utf8").replace("fastPath: { ingress: [ext-vlan0] }", "fastPath: { ingress: [ext-vlan0, ext-vlan1] }");
    const resolved = mustLoad(text);
    const ingress = resolved.config.loadBalancers.flatMap((lb) => lb.fastPath?.ingress ?? []);
    expect(ingress).toEqual(["ext-vlan0", "ext-vlan1"]);
    const scope = watchScope(resolved, { rules: [], routes: [], sysctls: [], nft: null, links: [], requires: [] });
    for (const i of ingress) expect(classifyEvent("ip", `5: ${i}@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP`, scope)).toBe("link");
  });
});
