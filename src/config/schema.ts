/**
 * The shape of symroute.yaml, the contract users, examples and tests rely on.
 * Shape only: references between sections and address arithmetic are checked
 * in semantic.ts, so that zod's JSON Schema export stays usable by editors.
 */
import { z } from "zod";
import { parseAddress, parsePrefix } from "../net/ip.js";
import { INTERFACE_NAME, OBJECT_NAME } from "./names.js";

const name = z
  .string()
  .regex(OBJECT_NAME, "must be 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit");
const iface = z
  .string()
  .regex(INTERFACE_NAME, "must be an interface name: 1-15 letters, digits, '_', '.', '@' or '-'");

const ipv4 = z.string().refine((s) => parseAddress(s)?.family === 4, "must be an IPv4 address such as 192.0.2.1");
const ipv6 = z.string().refine((s) => parseAddress(s)?.family === 6, "must be an IPv6 address such as 2001:db8::1");
const anyAddress = z.string().refine((s) => parseAddress(s) !== null, "must be an IPv4 or IPv6 address");
const hostAddress = z
  .string()
  .refine((s) => parseAddress(s) !== null, "must be one IPv4 or IPv6 address (a VIP is a host address, not a prefix)");
const anyPrefix = z.string().refine((s) => parsePrefix(s) !== null, "must be an address or CIDR such as 10.0.0.0/24");
const v4Prefix = z.string().refine((s) => parsePrefix(s)?.family === 4, "must be an IPv4 CIDR such as 192.0.2.0/24");
const v6Prefix = z.string().refine((s) => parsePrefix(s)?.family === 6, "must be an IPv6 CIDR such as 2001:db8::/64");

const tableId = z.number().int().min(1).max(0xfffffffe);

/** "1000-1999" or a single number, as used by allocate.tables and allocate.priorities. */
const range = z
  .string()
  .regex(/^[0-9]+-[0-9]+$/, "must be a range such as 1000-1999")
  .or(z.number().int().nonnegative());

const mask = z
  .union([z.number().int().positive(), z.string().regex(/^0x[0-9a-fA-F]{1,8}$/, "must be a hex mask such as 0x00ff0000")])
  .describe("fwmark bits symroute may use");

const portSpec = z
  .union([z.string(), z.number().int()])
  .transform((v) => String(v))
  .refine((s) => /^[0-9]{1,5}(-[0-9]{1,5})?$/.test(s), "must be a port or range such as \"4000\" or \"4000-4010\"");

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
  gateway: ipv4.optional(),
  gateway6: ipv6.optional(),
  addresses: z.array(anyPrefix).optional().describe("the uplink's own addresses; read from the interface when absent"),
  table: tableId.optional(),
  returnTraffic: z.enum(["connmark", "none"]).default("connmark"),
  rpFilter: z.enum(["loose", "strict", "off", "keep"]).default("loose"),
});

export const serviceSchema = z.strictObject({
  name,
  addresses: z.array(anyAddress).min(1),
  uplink: name,
  strategy: z.enum(["source", "mark", "static", "vrf"]).default("source"),
  clients: z.array(anyPrefix).optional(),
  table: tableId.optional().describe("vrf strategy: table of the VRF"),
});

const flowSchema = z.strictObject({
  name,
  priority: z.number().int().min(0).max(65535),
  protocols: z.array(z.enum(["tcp", "udp", "sctp", "icmp"])).min(1),
  destinationPorts: z.array(portSpec).optional(),
  sources: z.array(anyPrefix).optional(),
  sourcePorts: z.array(portSpec).optional(),
});

const targetSchema = z.strictObject({
  name,
  via: ipv4.optional(),
  via6: ipv6.optional(),
  interface: iface,
});

export const loadBalancerSchema = z.strictObject({
  name,
  vips: z.array(hostAddress).min(1),
  maglev: z.strictObject({ size: z.number().int().positive().optional() }).default({}),
  assignment: z.enum(["maglev", "stable"]).default("maglev"),
  flows: z.array(flowSchema).min(1),
  targets: z.array(targetSchema),
  egress: z
    .strictObject({
      gateway: ipv4.optional(),
      gateway6: ipv6.optional(),
      interface: iface,
      table: tableId.optional(),
    })
    .optional(),
});

const instanceSchema = z.strictObject({
  address: ipv4.optional(),
  address6: ipv6.optional(),
  tap: iface,
});

export const routedNetworkSchema = z.strictObject({
  name,
  interface: iface,
  subnet: v4Prefix.optional(),
  subnet6: v6Prefix.optional(),
  gateway: ipv4.optional(),
  gateway6: ipv6.optional(),
  table: tableId.optional(),
  role: z.enum(["host", "router", "host-router"]),
  arpSource: ipv4.optional(),
  masquerade: z.strictObject({ interface: iface }).optional(),
  instances: z.array(instanceSchema).default([]),
});

/** The whole file. */
export const configSchema = z.strictObject({
  version: z.literal(1),
  allocate: allocateSchema.default({ tables: "1000-1999", priorities: "1000-1999", markMask: "0x00ff0000" }),
  uplinks: z.array(uplinkSchema).default([]),
  services: z.array(serviceSchema).default([]),
  loadBalancers: z.array(loadBalancerSchema).default([]),
  routedNetworks: z.array(routedNetworkSchema).default([]),
});

/** A config as parsed, defaults filled in. */
export type Config = z.output<typeof configSchema>;
export type Uplink = z.output<typeof uplinkSchema>;
export type Service = z.output<typeof serviceSchema>;
export type LoadBalancer = z.output<typeof loadBalancerSchema>;
export type RoutedNetwork = z.output<typeof routedNetworkSchema>;
