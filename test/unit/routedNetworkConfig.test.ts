import { describe, expect, it } from "vitest";
import { mustFail, mustLoad } from "../helpers/config.js";
import { compile } from "../../src/compile/index.js";

const NET = (body: string, role = "host") => `version: 1
routedNetworks:
  - name: net
    interface: eth0.500
    subnet: 192.0.2.0/24
    gateway: 192.0.2.1
    role: ${role}
${body}`;

describe("routed network config errors", () => {
  it("an instance outside the subnet", () => {
    expect(mustFail(NET("    instances:\n      - { address: 198.51.100.5, tap: tap0 }\n"))).toEqual([
      "test.yaml:9:20: routedNetworks[0].instances[0].address: 198.51.100.5 is outside the subnet 192.0.2.0/24",
    ]);
  });

  it("a tap used twice", () => {
    const errs = mustFail(NET("    instances:\n      - { address: 192.0.2.5, tap: tap0 }\n      - { address: 192.0.2.6, tap: tap0 }\n"));
    expect(errs).toEqual(["test.yaml:10:36: routedNetworks[0].instances[1].tap: tap tap0 is already used by an instance of net"]);
  });

  it("a role that needs a gateway without one", () => {
    const errs = mustFail(NET("", "router").replace("    gateway: 192.0.2.1\n", ""));
    expect(errs).toEqual(["test.yaml:6:11: routedNetworks[0].role: the router role holds the gateway address: give gateway and/or gateway6"]);
  });

  it("arpSource on an instance's address, or outside the subnet", () => {
    const errs = mustFail(NET("    arpSource: 192.0.2.5\n    instances:\n      - { address: 192.0.2.5, tap: tap0 }\n"));
    expect(errs).toEqual(["test.yaml:8:16: routedNetworks[0].arpSource: 192.0.2.5 is an instance's address; pick an address no instance uses"]);
    expect(mustFail(NET("    arpSource: 10.0.0.1\n"))[0]).toMatch(/arpSource: 10\.0\.0\.1 is not inside 192\.0\.2\.0\/24/);
  });

  it("instances on the router role, masquerade on the host role", () => {
    expect(mustFail(NET("    instances:\n      - { address: 192.0.2.5, tap: tap0 }\n", "router"))[0]).toMatch(/instances: the router role hosts no instances; use host-router/);
    expect(mustLoad(NET("    masquerade: { interface: eth0 }\n")).warnings[0].message).toBe("ignored: only the router roles masquerade");
  });

  it("compiles the seed's host: iif rules, the table, proxy ARP without delay, the ARP source", () => {
    const r = mustLoad(NET("    table: 500\n    arpSource: 192.0.2.254\n    instances:\n      - { address: 192.0.2.10, tap: tap0 }\n"));
    const { desired } = compile(r, { links: {}, rpFilter: {} });
    expect(desired.rules.map((x) => [x.iif, x.table])).toEqual([["eth0.500", 500], ["tap0", 500]]);
    expect(desired.routes.map((x) => `${x.table} ${x.dst} ${x.gateway ?? ""} ${x.dev}`)).toEqual([
      "500 192.0.2.0/24  eth0.500",
      "254 192.0.2.0/24  eth0.500",
      "500 default 192.0.2.1 eth0.500",
      "500 192.0.2.10  tap0",
    ]);
    expect(desired.sysctls.map((x) => `${x.key}=${x.value}`)).toContain("net/ipv4/neigh/eth0.500/proxy_delay=0");
    expect(desired.nftArp?.rules[0].statements.map((x) => x.text).join(" ")).toBe('oifname "eth0.500" arp operation request arp saddr ip set 192.0.2.254 counter');
  });
});
