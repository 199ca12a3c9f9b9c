/**
 * symroute's own nftables table, built as data. It is always replaced whole in
 * one transaction (add, delete, add), so the kernel sees the old table or the
 * new one, never a mix.
 */
import type { NftStatement } from "./nftExpr.js";

/** A base chain (with a hook) or a regular chain (a jump or goto target). */
export interface NftChain {
  name: string;
  /** `type`: `route` for output chains that re-route after a mark change */
  type?: "filter" | "route" | "nat";
  hook?: "prerouting" | "input" | "forward" | "output" | "postrouting" | "ingress";
  /** `dev`: the interface of a netdev ingress chain (`nft -j list` leaves it out: rollback takes it from the applied table) */
  dev?: string;
  /** `prio` */
  prio?: number;
  policy?: "accept" | "drop";
}

/** A named set of addresses (`type ipv4_addr` / `ipv6_addr`). */
export interface NftSet {
  name: string;
  type: "ipv4_addr" | "ipv6_addr";
  elem: string[];
}

/**
 * A set of remembered flows (a load balancer's flow memory, one per target and
 * family): filled from the packet path, each element forgotten `timeout`
 * seconds after its flow's last packet. Never written by symroute, only created
 * and deleted, so plans and listings leave its elements out.
 */
export interface NftFlowSet {
  name: string;
  family: 4 | 6;
  /** seconds */
  timeout: number;
  size: number;
}

/** The nft type of a flow set's key: source, destination, source port, destination port. */
export function flowSetType(family: 4 | 6): string[] {
  const addr = family === 4 ? "ipv4_addr" : "ipv6_addr";
  return [addr, addr, "inet_service", "inet_service"];
}

/** The JSON command that creates a flow set. */
export function flowSetCommand(family: NftTable["family"], table: string, s: NftFlowSet): Record<string, unknown> {
  return { add: { set: { family, table, name: s.name, type: flowSetType(s.family), flags: ["timeout"], timeout: s.timeout, size: s.size } } };
}

/** A rule: statements in order, in one chain. */
export interface NftRule {
  chain: string;
  statements: NftStatement[];
  comment?: string;
}

/** A named verdict map keyed by the packet mark (the load balancers' Maglev tables). */
export interface NftMap {
  name: string;
  /** entry number to the chain it jumps to */
  elem: [number, string][];
}

/** A whole table: what symroute replaces in one transaction. */
export interface NftTable {
  family: "inet" | "ip" | "ip6" | "arp" | "netdev";
  name: string;
  sets?: NftSet[];
  flowSets?: NftFlowSet[];
  maps?: NftMap[];
  chains: NftChain[];
  rules: NftRule[];
}

/** The libnftables JSON commands that replace the table atomically. */
export function replaceTableCommands(table: NftTable): Record<string, unknown>[] {
  const t = { family: table.family, name: table.name };
  return [
    { add: { table: t } },
    { delete: { table: t } },
    ...tableCommands(table),
  ];
}

/** The JSON commands that create the table from nothing. */
export function tableCommands(table: NftTable): Record<string, unknown>[] {
  const t = { family: table.family, name: table.name };
  return [
    { add: { table: t } },
    ...(table.sets ?? []).map((s) => ({ add: { set: { family: table.family, table: table.name, name: s.name, type: s.type, elem: s.elem } } })),
    ...(table.flowSets ?? []).map((s) => flowSetCommand(table.family, table.name, s)),
    ...table.chains.map((c) => ({
      add: {
        chain: {
          family: table.family,
          table: table.name,
          name: c.name,
          ...(c.hook ? { type: c.type, hook: c.hook, ...(c.dev ? { dev: c.dev } : {}), prio: c.prio, policy: c.policy } : {}),
        },
      },
    })),
    ...(table.maps ?? []).map((m) => ({
      add: { map: { family: table.family, table: table.name, name: m.name, type: "mark", map: "verdict", elem: m.elem.map(([k, chain]) => [k, { jump: { target: chain } }]) } },
    })),
    ...table.rules.map((r) => ({
      add: {
        rule: {
          family: table.family,
          table: table.name,
          chain: r.chain,
          expr: r.statements.map((s) => s.json),
          ...(r.comment ? { comment: r.comment } : {}),
        },
      },
    })),
  ];
}

/** The JSON commands that remove the table if it exists. */
export function deleteTableCommands(family: NftTable["family"], name: string): Record<string, unknown>[] {
  const t = { family, name };
  return [{ add: { table: t } }, { delete: { table: t } }];
}

/** nft text for `render --format nft` and for people reading a plan. */
export function tableText(table: NftTable): string {
  const lines = [`table ${table.family} ${table.name} {`];
  for (const set of table.sets ?? []) {
    lines.push(`\tset ${set.name} {`, `\t\ttype ${set.type}`);
    if (set.elem.length) lines.push(`\t\telements = { ${set.elem.join(", ")} }`);
    lines.push("\t}");
  }
  for (const set of table.flowSets ?? []) lines.push(`\tset ${set.name} {`, `\t\ttype ${flowSetType(set.family).join(" . ")}`, `\t\tsize ${set.size}`, "\t\tflags dynamic,timeout", `\t\ttimeout ${set.timeout}s`, "\t}");
  for (const map of table.maps ?? []) {
    lines.push(`\tmap ${map.name} {`, "\t\ttype mark : verdict");
    if (map.elem.length) lines.push(`\t\telements = { ${map.elem.map(([k, c]) => `${k} : jump ${c}`).join(", ")} }`);
    lines.push("\t}");
  }
  // rules grouped once: filtering the whole list per chain made a thousand targets' chains quadratic
  const byChain = new Map<string, NftRule[]>();
  for (const rule of table.rules) {
    if (!byChain.has(rule.chain)) byChain.set(rule.chain, []);
    byChain.get(rule.chain)!.push(rule);
  }
  for (const chain of table.chains) {
    lines.push(`\tchain ${chain.name} {`);
    if (chain.hook) lines.push(`\t\ttype ${chain.type} hook ${chain.hook}${chain.dev ? ` device ${JSON.stringify(chain.dev)}` : ""} priority ${chain.prio}; policy ${chain.policy};`);
    for (const rule of byChain.get(chain.name) ?? []) {
      const comment = rule.comment ? ` comment ${JSON.stringify(rule.comment)}` : "";
      lines.push(`\t\t${rule.statements.map((s) => s.text).join(" ")}${comment}`);
    }
    lines.push("\t}");
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

/** One object of an `nft -j` listing: `{ rule: {...} }`, `{ map: {...} }`, ... (kernel/ reads them, plan/ compares them). */
export type NftObject = Record<string, Record<string, unknown>>;
