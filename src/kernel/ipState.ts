/**
 * Reads rules, routes, links and addresses in two processes: one `ip -batch`
 * per family (each spawn costs a few milliseconds, and apply reads twice).
 */
import type { Runner } from "./runner.js";
import type { Tagged } from "../model/live.js";
import type { RoutingRule } from "../model/rule.js";
import type { Route } from "../model/route.js";
import { canonicalAddress } from "../net/ip.js";
import { ruleFromJson, routeFromJson, type JsonRoute, type JsonRule, isRouteTypeKnown } from "./ipRead.js";

/** What `ip` shows of the kernel. */
export interface IpState {
  rules: Tagged<RoutingRule>[];
  routes: Tagged<Route>[];
  /** every interface, with its addresses as CIDR text and whether it is set up (`ip link set up`) */
  links: Record<string, { addresses: string[]; up?: boolean; mtu?: number }>;
  /** IPv6 neighbour proxy entries */
  proxies: { dst: string; dev: string }[];
}

interface JsonAddr {
  ifname: string;
  addr_info?: { local: string; prefixlen: number }[];
}

/** Splits the output of `ip -j -batch`: one JSON array per command, one per line. */
export function arrays(stdout: string): unknown[][] {
  return stdout
    .split("\n")
    .filter((l) => l.trim().startsWith("["))
    .map((l) => JSON.parse(l) as unknown[]);
}

type Row = Record<string, unknown>;

/** What `ip -N -j` prints of rules, routes, links, addresses and proxies, as rows. */
export interface IpRows {
  rules4: Row[];
  routes4: Row[];
  links: Row[];
  addrs4: Row[];
  rules6: Row[];
  routes6: Row[];
  addrs6: Row[];
  proxies6: Row[];
}

/** One `ip -batch` per family; apply, plan, trace and doctor all read the kernel through it. */
export async function readIpRows(runner: Runner): Promise<IpRows> {
  const [v4, v6] = await Promise.all([
    runner.run(["ip", "-4", "-N", "-j", "-batch", "-"], { stdin: "rule show\nroute show table all\nlink show\naddr show\n" }),
    runner.run(["ip", "-6", "-N", "-j", "-batch", "-"], { stdin: "rule show\nroute show table all\naddr show\nneigh show proxy\n" }),
  ]);
  const [rules4, routes4, links, addrs4] = arrays(v4.stdout) as Row[][];
  const [rules6, routes6, addrs6, proxies6] = arrays(v6.stdout) as Row[][];
  if (!rules4 || !routes4 || !links || !addrs4 || !rules6 || !routes6 || !addrs6 || !proxies6) throw new Error("ip -batch printed fewer results than asked for");
  return { rules4, routes4, links, addrs4, rules6, routes6, addrs6, proxies6 };
}

/** Reads both families' rules and routes, and all links with their addresses. */
export async function readIpState(runner: Runner): Promise<IpState> {
  const { rules4, routes4, links, addrs4, rules6, routes6, addrs6, proxies6 } = await readIpRows(runner);
  const state: IpState = { rules: [], routes: [], links: {}, proxies: (proxies6 as unknown as { dst: string; dev: string }[]).map((p) => ({ dst: canonicalAddress(p.dst), dev: p.dev })) };
  for (const [rows, family] of [[rules4, 4], [rules6, 6]] as const)
    for (const row of rows as unknown as JsonRule[]) state.rules.push({ value: ruleFromJson(row, family), protocol: Number(row.protocol ?? 0) });
  for (const [rows, family] of [[routes4, 4], [routes6, 6]] as const)
    for (const row of rows as unknown as JsonRoute[]) if (isRouteTypeKnown(row)) state.routes.push({ value: routeFromJson(row, family), protocol: Number(row.protocol ?? 0) });
  for (const l of links as unknown as { ifname: string; flags?: string[]; mtu?: number }[]) state.links[l.ifname] = { addresses: [], up: (l.flags ?? []).includes("UP"), ...(typeof l.mtu === "number" ? { mtu: l.mtu } : {}) };
  for (const rows of [addrs4, addrs6])
    for (const row of rows as unknown as JsonAddr[]) {
      const entry = (state.links[row.ifname] ??= { addresses: [] });
      for (const a of row.addr_info ?? []) entry.addresses.push(`${a.local}/${a.prefixlen}`);
    }
  return state;
}
