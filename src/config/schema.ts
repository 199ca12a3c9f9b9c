/**
 * The shape of symroute.yaml, the contract users, examples and tests rely on.
 * Shape only: references between sections and address arithmetic are checked
 * in semantic.ts, so that zod's JSON Schema export stays usable by editors.
 */
import { z } from "zod";
import { quote } from "./messages.js";
import { address, boundedDuration, checkDuration, expecting, gateway, iface, integer, MAGLEV_MAX_SIZE, mask, MAX_DURATION_MS, name, portSpec, prefix, range, tableId } from "./schemaFields.js";
import { bgpSchema, daemonSchema } from "./schemaDaemon.js";
import { fleetSchema } from "./schemaFleet.js";

export { boundedDuration, durationMs, formatBound, MAGLEV_MAX_SIZE, MAX_DURATION_MS } from "./schemaFields.js";
export { BGP_DEFAULTS, bgpSchema, type Bgp } from "./schemaDaemon.js";

/** Health check defaults (timeout: half the interval): a dead uplink is down after 4 missed rounds, 0.7 s after its first lost probe, under 0.9 s after the fault. */
export const CHECK_DEFAULTS = { method: "icmp", interval: "200ms", down: 4, up: 5, hold: "10s" } as const;

/** `uplinks[].check`: probes sent from the uplink's own address to targets beyond it, run by `symroute run`. */
export const checkSchema = z.strictObject({
  targets: z.array(address({ use: "a check target" })).min(1).max(8).describe("1-8 addresses probed beyond the uplink; the uplink is up while any answers"),
  method: z
    .string({ error: expecting('"icmp" or "tcp:PORT"') })
    .superRefine((text, ctx) => {
      const m = /^tcp:([0-9]{1,5})$/.exec(text);
      if (text === "icmp" || (m && Number(m[1]) >= 1 && Number(m[1]) <= 65535)) return;
      ctx.addIssue({ code: "custom", message: `must be "icmp" or "tcp:PORT" with a port 1-65535, such as tcp:443; got ${quote(text)}`, input: text });
    })
    .default(CHECK_DEFAULTS.method),
  interval: checkDuration(50, "(one round of probes at most every 50 ms)").default(CHECK_DEFAULTS.interval).describe("time between rounds"),
  timeout: checkDuration(10, "").optional().describe("how long a probe may wait for its answer; default: half the interval"),
  down: integer(1, 1000).default(CHECK_DEFAULTS.down).describe("missed rounds in a row before the uplink is down"),
  up: integer(1, 1000).default(CHECK_DEFAULTS.up).describe("answered rounds in a row before it is up again"),
  hold: checkDuration(0, "").default(CHECK_DEFAULTS.hold).describe("least time down before fail-back"),
});
export type Check = z.output<typeof checkSchema>;

export const allocateSchema = z
  .strictObject({
    tables: range.default("1000-1999"),
    priorities: range.default("1000-1999"),
    markMask: mask.default("0x00ff0000"),
  })
  .describe("ranges symroute allocates from; it never touches ids outside them");

export const uplinkSchema = z.strictObject({
  name,
  interface: iface,
  gateway: gateway(4).optional(),
  gateway6: gateway(6).optional(),
  addresses: z.array(prefix()).optional().describe("the uplink's own addresses; read from the interface when absent"),
  check: checkSchema.optional().describe("health check run by symroute run; absent: the uplink is always up"),
  table: tableId.optional(),
  returnTraffic: z.enum(["connmark", "none"]).default("connmark"),
  rpFilter: z.enum(["loose", "strict", "off", "keep"]).default("loose"),
  weight: integer(1, 1000).default(1).describe("outbound: share of new connections among the live uplinks of its tier"),
  tier: integer(1, 100).default(1).describe("outbound: the lowest tier with a live uplink carries the new connections"),
});

export const serviceSchema = z.strictObject({
  name,
  addresses: z.array(address({ use: "a service address" })).min(1),
  uplink: name,
  strategy: z.enum(["source", "mark", "static", "vrf"]).default("source"),
  clients: z.array(prefix()).optional(),
  table: tableId.optional().describe("vrf strategy: table of the VRF"),
});

const flowSchema = z.strictObject({
  name,
  priority: integer(0, 65535),
  protocols: z.array(z.enum(["tcp", "udp", "sctp", "icmp"])).min(1),
  destinationPorts: z.array(portSpec).optional(),
  sources: z.array(prefix()).optional(),
  sourcePorts: z.array(portSpec).optional(),
});

const checkPort = integer(1, 65535, (input) => `must be a port 1-65535, got ${String(input)}`);

/**
 * `targets[].check`: one of a TCP connect, an HTTP GET or a command, run by
 * `symroute run` through the target's conduit (from the conduit's own address,
 * to the target's via / via6) every interval.
 */
const targetCheckSchema = z
  .strictObject({
    tcp: checkPort.optional().describe("port connected to on the target's via address"),
    http: z
      .strictObject({
        port: checkPort.describe("port of the HTTP server on the target's via address"),
        path: z.string().regex(/^\/[\x21-\x7e]*$/, { error: 'must be a path starting with "/" and without spaces or control characters' }).max(1024).default("/").describe("path asked for with GET"),
        status: integer(100, 599, (input) => `must be an HTTP status 100-599, got ${String(input)}`).default(200).describe("the status that means healthy"),
      })
      .optional()
      .describe("HTTP GET; healthy when the answer has the expected status"),
    command: z
      .array(z.string().min(1).max(4096))
      .min(1)
      .max(64)
      .optional()
      .describe("program and arguments, run without a shell; exit 0 means healthy. Environment: SYMROUTE_TARGET, SYMROUTE_VIA, SYMROUTE_VIA6, SYMROUTE_SOURCE, SYMROUTE_INTERFACE"),
    interval: checkDuration(50, "(one probe at most every 50 ms)").default("250ms").describe("time between probes"),
    timeout: checkDuration(10, "").optional().describe("a later answer is a failure; default half the interval"),
    down: integer(1, 1000, (input) => `must be an integer 1-1000, got ${String(input)}`).default(3).describe("failures in a row before the target leaves the table"),
    up: integer(1, 1000, (input) => `must be an integer 1-1000, got ${String(input)}`).default(2).describe("successes in a row before it returns"),
  })
  .superRefine((c, ctx) => {
    const kinds = (["tcp", "http", "command"] as const).filter((k) => c[k] !== undefined);
    if (kinds.length !== 1)
      ctx.addIssue({ code: "custom", message: kinds.length === 0 ? "needs one of tcp, http or command" : `has ${kinds.join(" and ")}: give exactly one of tcp, http or command`, input: c });
  });

/** A target's check as the schema gives it. */
export type TargetCheck = z.output<typeof targetCheckSchema>;

/** One target of a balancer: from the file, or registered at run time (the same shape). */
export const targetSchema = z.strictObject({
  name,
  via: address({ family: 4, use: "a next hop", other: "via6" }).optional(),
  via6: address({ family: 6, use: "a next hop", other: "via" }).optional(),
  interface: iface,
  check: targetCheckSchema.optional(),
});

export const loadBalancerSchema = z.strictObject({
  name,
  vips: z.array(address({ use: "a VIP" })).min(1),
  maglev: z
    .strictObject({
      size: integer(1, MAGLEV_MAX_SIZE, (input) => `must be at most ${MAGLEV_MAX_SIZE} (the Maglev paper's large table), got ${String(input)}`).optional(),
    })
    .default({}),
  assignment: z.enum(["maglev", "stable"]).default("maglev"),
  flows: z.array(flowSchema).min(1),
  targets: z.array(targetSchema),
  flowMemory: z
    .strictObject({
      timeout: boundedDuration(1000, MAX_DURATION_MS).default("120s").describe("a remembered flow is forgotten after this long without a packet"),
      size: integer(1024, 16_777_216, (input) => `must be 1024-16777216 flows, got ${String(input)}`).default(65536).describe("most flows remembered per target and family"),
    })
    .optional()
    .describe("remember each flow's target in the kernel, so target changes move no established flow; off: stateless"),
  registration: z
    .strictObject({
      lease: boundedDuration(1000, MAX_DURATION_MS).optional().describe("a registered target that does not renew within this long is removed; absent: registrations never expire"),
      maxTargets: integer(1, 4096, (input) => `must be 1-4096, got ${String(input)}`).default(256).describe("most targets registered at run time"),
      conduits: z
        .array(iface)
        .min(1)
        .optional()
        .describe("interfaces a registered target may use; default: the interfaces of the file's targets"),
      allow: z
        .array(prefix())
        .min(1)
        .optional()
        .describe("prefixes a registered target's via/via6 must be in; default: the subnets of its conduit. The frontend's own addresses, the VIPs and the gateways are refused whatever this says"),
    })
    .optional()
    .describe("targets may be added at run time through symroute run's API (symroute lb target add)"),
  fastPath: z
    .strictObject({
      ingress: z.array(iface).min(1).max(64).describe("interfaces where the VIPs' traffic arrives: each gets a netdev ingress chain that forwards the balancer's TCP/UDP/SCTP flows straight to their target"),
    })
    .optional()
    .describe("off by default. Forward the VIPs' port flows from the ingress interfaces to their targets with nft `fwd`, skipping routing, ip rules, rp_filter and the forward and postrouting hooks (so a forward firewall, conntrack and IPsec policies on this host do not see them); fragments, ICMP, TTL 1 and everything else take the routed path. Needs Linux 5.1 or later (5.19 with flowMemory) and nftables 1.0.3 or later"),
  drainTimeout: boundedDuration(0, MAX_DURATION_MS).default("300s").describe("the longest a drained target keeps its remembered flows before it leaves"),
  egress: z
    .strictObject({
      gateway: gateway(4).optional(),
      gateway6: gateway(6).optional(),
      interface: iface,
      table: tableId.optional(),
    })
    .optional(),
});

const instanceSchema = z.strictObject({
  address: address({ family: 4, use: "an instance address", other: "address6" }).optional(),
  address6: address({ family: 6, use: "an instance address", other: "address" }).optional(),
  tap: iface,
});

export const routedNetworkSchema = z.strictObject({
  name,
  interface: iface,
  subnet: prefix({ family: 4, other: "subnet6" }).optional(),
  subnet6: prefix({ family: 6, other: "subnet" }).optional(),
  gateway: gateway(4).optional(),
  gateway6: gateway(6).optional(),
  table: tableId.optional(),
  role: z.enum(["host", "router", "host-router"]),
  arpSource: address({ family: 4, use: "the ARP source" }).optional(),
  masquerade: z.strictObject({ interface: iface }).optional(),
  instances: z.array(instanceSchema).default([]),
});

/** Outgoing connections from `from` shared over uplinks by weight, within the lowest live tier. */
export const outboundSchema = z.strictObject({
  name,
  from: z.array(prefix()).min(1).describe("source prefixes (IPv4 and/or IPv6) whose new connections are shared"),
  uplinks: z.array(name).optional().describe("the uplinks to share over; all uplinks when absent"),
  sticky: z.enum(["connection", "source"]).default("connection").describe("connection: each new connection drawn at random; source: one uplink per source address"),
  masquerade: z.boolean({ error: expecting("true or false") }).default(true).describe("rewrite the source to the uplink's address"),
});

export const configSchema = z.strictObject({
  version: z.literal(1),
  allocate: allocateSchema.default({ tables: "1000-1999", priorities: "1000-1999", markMask: "0x00ff0000" }),
  uplinks: z.array(uplinkSchema).default([]),
  services: z.array(serviceSchema).default([]),
  loadBalancers: z.array(loadBalancerSchema).default([]),
  routedNetworks: z.array(routedNetworkSchema).default([]),
  outbound: z.array(outboundSchema).default([]),
  daemon: daemonSchema.optional(),
  bgp: bgpSchema.optional().describe("announce the VIPs by BGP (BIRD 2) while they can be served"),
  fleet: fleetSchema.optional().describe("share registrations, drains and the config with the other frontends through etcd"),
});

/** A config as parsed, defaults filled in. */
export type Config = z.output<typeof configSchema>;
export type Uplink = z.output<typeof uplinkSchema>;
export type Service = z.output<typeof serviceSchema>;
export type LoadBalancer = z.output<typeof loadBalancerSchema>;
export type RoutedNetwork = z.output<typeof routedNetworkSchema>;
export type Outbound = z.output<typeof outboundSchema>;
