/**
 * Checks that need more than one field: references, address families,
 * overlaps, reserved ids and capacity. Returns every problem, not the first.
 */
import type { FieldPath } from "./errors.js";
import type { Config } from "./schema.js";
import { parseMask, parseRange, type IdRange } from "./resolved.js";
import { parseAddress, parsePrefix, prefixContains, isNetworkAligned, familyBits } from "../net/ip.js";
import { checkLoadBalancers } from "./semanticLb.js";
import { checkBgp } from "./semanticBgp.js";
import { checkRoutedNetworks } from "./semanticNetworks.js";
import { checkOutbound } from "./semanticOutbound.js";
import { checkDaemon } from "./semanticDaemon.js";
import { checkFleet } from "./semanticFleet.js";

/** A problem before it is given a line and column. */
export interface PathIssue {
  path: FieldPath;
  message: string;
  atKey?: boolean;
  /** reported, but the config is still applied */
  warning?: boolean;
}

const RESERVED_TABLES = [0, 253, 254, 255];
const RESERVED_PRIORITIES = [0, 32766, 32767];

/** Runs every cross-field check on a shape-valid config. */
export function checkSemantics(config: Config): PathIssue[] {
  const issues: PathIssue[] = [];
  const add = (path: FieldPath, message: string) => issues.push({ path, message });

  const tables = parseRange(config.allocate.tables);
  const priorities = parseRange(config.allocate.priorities);
  const mask = parseMask(config.allocate.markMask);
  checkRange(tables, ["allocate", "tables"], RESERVED_TABLES, 0xfffffffe, "table", add);
  checkRange(priorities, ["allocate", "priorities"], RESERVED_PRIORITIES, 32765, "priority", add);
  if (mask === 0) add(["allocate", "markMask"], "must have at least one bit set");
  else if (!isContiguous(mask)) add(["allocate", "markMask"], `bits must be contiguous, got 0x${mask.toString(16)}`);

  const uplinkIndex = new Map<string, number>();
  const interfaces = new Map<string, number>();
  const explicitTables = new Map<number, string>();
  const claimTable = (table: number | undefined, path: FieldPath, owner: string) => {
    if (table === undefined) return;
    if (RESERVED_TABLES.includes(table)) add(path, `table ${table} is reserved by the kernel (local, main, default); pick another`);
    const other = explicitTables.get(table);
    if (other !== undefined) add(path, `table ${table} is already used by ${other}`);
    else explicitTables.set(table, owner);
  };

  config.uplinks.forEach((u, i) => {
    const base: FieldPath = ["uplinks", i];
    if (uplinkIndex.has(u.name)) add([...base, "name"], `duplicate uplink name '${u.name}'`);
    uplinkIndex.set(u.name, i);
    const prev = interfaces.get(u.interface);
    if (prev !== undefined) add([...base, "interface"], `interface '${u.interface}' is already uplink ${config.uplinks[prev].name}`);
    interfaces.set(u.interface, i);
    if (!u.gateway && !u.gateway6) add(base, "needs gateway and/or gateway6");
    claimTable(u.table, [...base, "table"], `uplink ${u.name}`);
    u.addresses?.forEach((a, j) => {
      const p = parsePrefix(a);
      if (!p) return;
      const gw = p.family === 4 ? u.gateway : u.gateway6;
      if (gw && p.length < familyBits(p.family)) {
        const g = parseAddress(gw);
        if (g && !prefixContains(p, g)) add([...base, "addresses", j], `gateway ${gw} is not inside ${a}; the link route would not reach it`);
      }
    });
  });

  config.uplinks.forEach((u, i) => checkUplinkCheck(u, ["uplinks", i, "check"], add));

  // named once, and only the first few: thousands of services naming a missing uplink must not list thousands of uplinks each
  let known: string | undefined;
  const knownUplinks = (): string => {
    if (known === undefined) {
      const names = [...uplinkIndex.keys()];
      known = names.length === 0 ? "" : ` (known: ${names.slice(0, 10).join(", ")}${names.length > 10 ? `, and ${names.length - 10} more` : ""})`;
    }
    return known;
  };
  const serviceNames = new Set<string>();
  const serviceAddresses = new Map<string, string>();
  const staticClients = new Map<string, { service: string; uplink: string }>();
  config.services.forEach((s, i) => {
    const base: FieldPath = ["services", i];
    if (serviceNames.has(s.name)) add([...base, "name"], `duplicate service name '${s.name}'`);
    serviceNames.add(s.name);
    const ui = uplinkIndex.get(s.uplink);
    const uplink = ui === undefined ? undefined : config.uplinks[ui];
    if (!uplink) add([...base, "uplink"], `no uplink named '${s.uplink}'${knownUplinks()}`);
    s.addresses.forEach((a, j) => {
      const addr = parseAddress(a);
      if (!addr) return;
      const other = serviceAddresses.get(a);
      if (other !== undefined) add([...base, "addresses", j], `address ${a} is already pinned by service ${other}`);
      serviceAddresses.set(a, s.name);
      if (uplink && addr.family === 4 && !uplink.gateway)
        add([...base, "addresses", j], `IPv4 address but uplink ${uplink.name} has no gateway (only gateway6)`);
      if (uplink && addr.family === 6 && !uplink.gateway6)
        add([...base, "addresses", j], `IPv6 address but uplink ${uplink.name} has no gateway6`);
    });
    if (s.strategy === "static") {
      if (!s.clients || s.clients.length === 0) add([...base, "clients"], "the static strategy needs the client prefixes to route back");
    } else if (s.clients && s.clients.length > 0) {
      issues.push({ path: [...base, "clients"], message: `ignored: only the static strategy uses clients; strategy is '${s.strategy}'`, warning: true });
    }
    s.clients?.forEach((c, j) => {
      const p = parsePrefix(c);
      if (!p) return;
      if (s.strategy === "static") {
        // one route per client prefix in main: two uplinks for it would overwrite each other on every apply
        const key = `${p.family} ${c.toLowerCase()}`;
        const other = staticClients.get(key);
        if (other && other.uplink !== s.uplink) add([...base, "clients", j], `${c} is already routed back by service ${other.service} through uplink ${other.uplink}; a client network can return by one uplink only`);
        else if (!other) staticClients.set(key, { service: s.name, uplink: s.uplink });
      }
      if (!isNetworkAligned(p)) add([...base, "clients", j], `${c} has host bits set; write the network address`);
      if (uplink && p.family === 4 && !uplink.gateway) add([...base, "clients", j], `IPv4 client but uplink ${uplink.name} has no gateway`);
      if (uplink && p.family === 6 && !uplink.gateway6) add([...base, "clients", j], `IPv6 client but uplink ${uplink.name} has no gateway6`);
    });
    if (s.table !== undefined && s.strategy !== "vrf") add([...base, "table"], "only the vrf strategy takes a table");
    claimTable(s.table, [...base, "table"], `service ${s.name}`);
  });

  config.loadBalancers.forEach((lb, i) => claimTable(lb.egress?.table, ["loadBalancers", i, "egress", "table"], `load balancer ${lb.name}`));
  issues.push(...checkLoadBalancers(config));
  issues.push(...checkRoutedNetworks(config));
  issues.push(...checkOutbound(config));
  issues.push(...checkBgp(config));
  issues.push(...checkDaemon(config));
  issues.push(...checkFleet(config));
  config.routedNetworks.forEach((rn, i) => claimTable(rn.table, ["routedNetworks", i, "table"], `routed network ${rn.name}`));

  if (tables && mask !== 0) {
    const marksNeeded = config.uplinks.length + config.loadBalancers.reduce((n, lb) => n + lb.targets.length, 0);
    const capacity = maskCapacity(mask);
    if (marksNeeded > capacity)
      add(["allocate", "markMask"], `needs ${marksNeeded} marks but mask 0x${mask.toString(16)} holds only ${capacity}`);
  }
  return issues;
}

function checkRange(
  range: IdRange | null,
  path: FieldPath,
  reserved: number[],
  max: number,
  what: string,
  add: (path: FieldPath, message: string) => void,
): void {
  if (!range) return add(path, "must be a range such as 1000-1999");
  if (range.first > range.last) return add(path, `range starts after it ends (${range.first} > ${range.last})`);
  if (range.last > max) return add(path, `${what} ${range.last} is beyond the largest allowed (${max})`);
  const hit = reserved.filter((r) => r >= range.first && r <= range.last);
  if (hit.length) add(path, `range includes reserved ${what} ${hit.join(", ")}`);
}

function isContiguous(mask: number): boolean {
  const shifted = mask >>> lowestBit(mask);
  return (shifted & (shifted + 1)) === 0;
}

/** Index of the lowest set bit of a non-zero mask. */
export function lowestBit(mask: number): number {
  let shift = 0;
  while (shift < 32 && ((mask >>> shift) & 1) === 0) shift++;
  return shift;
}

/** Distinct non-zero mark values that fit in a contiguous mask. */
export function maskCapacity(mask: number): number {
  return (mask >>> lowestBit(mask)) >>> 0;
}

/** `uplinks[].check`: each target reachable in a family the uplink routes (a gateway of that family), no target twice. */
function checkUplinkCheck(u: Config["uplinks"][number], path: FieldPath, add: (path: FieldPath, message: string) => void): void {
  const seen = new Set<string>();
  u.check?.targets.forEach((t, j) => {
    const a = parseAddress(t);
    if (!a) return;
    const key = `${a.family} ${a.value}`;
    if (seen.has(key)) add([...path, "targets", j], `target ${t} is listed twice`);
    seen.add(key);
    if (a.family === 4 && !u.gateway) add([...path, "targets", j], `IPv4 target but uplink ${u.name} has no gateway (only gateway6): its probes could not leave by it`);
    if (a.family === 6 && !u.gateway6) add([...path, "targets", j], `IPv6 target but uplink ${u.name} has no gateway6: its probes could not leave by it`);
  });
}
