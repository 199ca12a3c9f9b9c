/**
 * `symroute doctor`: reads the kernel's routing state and reports what will
 * break replies on a multi-homed host: replies that leave by another
 * interface than the one the request came in on, strict rp_filter where
 * paths are asymmetric, rules that point at empty tables, other tools' rules
 * in symroute's priority range. Each finding says how to fix it.
 */
import { formatAddress, type Family } from "../net/ip.js";
import { SYMROUTE_PROTO } from "../model/ownership.js";
import type { IdRange } from "../config/resolved.js";
import { trace, type NftModel } from "./trace.js";
import { decide, tableName } from "./route.js";
import type { KernelView } from "./types.js";

/** One thing that is wrong, and how to put it right. */
export interface Finding {
  kind: "asymmetric-reply" | "unpinned-service" | "rp-filter" | "empty-table" | "foreign-rule" | "deleted-by-another-tool";
  message: string;
  fix: string[];
}

/** What doctor looks at besides the routing state. */
export interface DoctorInput {
  view: KernelView;
  model: NftModel;
  /** effective rp_filter inputs: `all` and each interface */
  rpFilter: Record<string, number>;
  priorities: IdRange;
  /** symroute's objects the last apply made that are gone now */
  missing?: string[];
}

/** Addresses used as "somewhere on the Internet" when no real client is known. */
const REMOTE: Record<Family, string> = { 4: "198.18.255.254", 6: "2001:db8:ffff:ffff::fe" };

/** Interfaces with a route through a gateway in any table: the ways in and out. */
function gatewayed(view: KernelView, family: Family): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of view.routes) if (r.family === family && r.gateway && r.dev && !out.has(r.dev)) out.set(r.dev, r.gateway);
  return out;
}

function uplinkSnippet(dev: string, gateway: string, family: Family): string {
  return `uplinks:\n  - name: ${dev.replace(/[^A-Za-z0-9_.-]/g, "-")}\n    interface: ${dev}\n    ${family === 4 ? "gateway" : "gateway6"}: ${gateway}\n    returnTraffic: connmark`;
}

/** Every finding, in a stable order. */
export function diagnose(input: DoctorInput): Finding[] {
  const { view, model } = input;
  const findings: Finding[] = [];
  if (input.missing?.length)
    findings.push({
      kind: "deleted-by-another-tool",
      message: `${input.missing.length} of symroute's objects are gone since the last apply (another tool deleted them): ${input.missing.slice(0, 5).join("; ")}${input.missing.length > 5 ? "; ..." : ""}`,
      fix: ["symroute apply <the same file> puts them back; find the tool that flushes rules (a network manager, a firewall script)"],
    });
  for (const family of [4, 6] as const) {
    const ways = gatewayed(view, family);
    const remote = REMOTE[family];
    // the ways in: symroute's uplinks when a config says which they are, else every interface with an address
    const declared = model.marks?.uplinks.map((u) => u.interface);
    const connected = [...new Set(view.addresses.filter((x) => x.prefix.family === family && x.scope === "global" && x.dev !== "lo").map((x) => x.dev))].filter(
      (dev) => !declared || declared.includes(dev),
    );
    const multiHomed = connected.length >= 2;
    for (const a of view.addresses) {
      if (a.prefix.family !== family || a.scope !== "global") continue;
      const address = formatAddress(a.prefix);
      const loopback = a.dev === "lo";
      const ingress = loopback ? connected : connected.includes(a.dev) ? [a.dev] : [];
      const wrong: string[] = [];
      for (const x of ingress) {
        const t = trace(view, model, { family, src: remote, dst: address, iif: x, proto: 6, sport: 40000, dport: 443 }, true);
        if (t.result.type !== "local" || !t.reply) continue;
        if (t.reply.result.dev !== x) wrong.push(`${x} (the reply leaves by ${t.reply.result.dev ?? "nowhere"}${t.reply.result.via ? ` via ${t.reply.result.via}` : ""})`);
      }
      if (wrong.length === 0) continue;
      if (loopback) {
        // a service pinned by policy to one network is meant to be reached there only
        const own = trace(view, model, { family, src: address, dst: remote });
        const decidedBy = own.steps.find((s) => s.kind === "rule" && s.text.endsWith(": matched"))?.text ?? "";
        const pinned = own.steps.some((s) => s.kind === "nft") || (decidedBy !== "" && !/lookup (254|main):/.test(decidedBy));
        if (pinned || !multiHomed) continue;
        const dev = connected.find((d) => d !== own.result.dev) ?? connected[0];
        const gw = ways.get(dev) ?? "<its gateway>";
        findings.push({
          kind: "unpinned-service",
          message: `${address} on lo answers by the main table's default route (${own.result.dev ?? "none"}); reached through ${wrong.join(", ")}, its replies go astray`,
          fix: [
            `pin it to the network that serves it, e.g. ip rule add from ${address} lookup <the table of ${dev}>`,
            `or in symroute.yaml:\n${uplinkSnippet(dev, gw, family)}\nservices:\n  - name: svc-${address.replace(/[.:]/g, "-")}\n    addresses: [${address}]\n    uplink: ${dev.replace(/[^A-Za-z0-9_.-]/g, "-")}\n    strategy: source`,
          ],
        });
      } else {
        const gw = ways.get(a.dev);
        findings.push({
          kind: "asymmetric-reply",
          message: `traffic for ${address} arriving on ${wrong.join(", ")}: not by ${a.dev}, where it came in${gw ? "" : ` (if remote clients reach ${a.dev} through a router)`}`,
          fix: gw
            ? [`ip route add default via ${gw} dev ${a.dev} table <T>; ip rule add from ${address} lookup <T>`, `or in symroute.yaml:\n${uplinkSnippet(a.dev, gw, family)}`]
            : [`ip rule add from ${address} lookup <a table whose default route leaves by ${a.dev}>`],
        });
      }
    }
    if (family === 4 && (multiHomed || view.rules.some((r) => r.family === 4 && r.priority > 0 && r.priority < 32766))) {
      for (const dev of connected) {
        const strict = Math.max(input.rpFilter["all"] ?? 0, input.rpFilter[dev] ?? 0) === 1;
        if (!strict) continue;
        const own = view.addresses.find((x) => x.dev === dev && x.prefix.family === 4 && x.scope === "global");
        const back = decide(view, { family: 4, dst: remote, ...(own ? { src: formatAddress(own.prefix) } : {}) });
        if (back.result.dev === dev) continue;
        findings.push({
          kind: "rp-filter",
          message: `rp_filter is strict on ${dev} (all=${input.rpFilter["all"] ?? 0}, ${dev}=${input.rpFilter[dev] ?? 0}): packets from outside arriving on ${dev} are dropped, since the route back leaves by ${back.result.dev ?? "nowhere"}`,
          fix: [`sysctl -w net/ipv4/conf/${dev}/rp_filter=2${(input.rpFilter["all"] ?? 0) === 1 ? " (and net/ipv4/conf/all/rp_filter=2: the kernel takes the larger)" : ""}`, `or rpFilter: loose on the uplink of ${dev} in symroute.yaml`],
        });
      }
    }
  }
  for (const r of view.rules) {
    if (r.action.kind === "lookup" && ![253, 254, 255].includes(r.action.table)) {
      const table = r.action.table;
      if (!view.routes.some((x) => x.family === r.family && x.table === table))
        findings.push({ kind: "empty-table", message: `rule ${r.text} points at table ${tableName(table)}, which has no ${r.family === 4 ? "IPv4" : "IPv6"} route`, fix: [`ip -${r.family} route add default via <gateway> table ${table}`, `or ip -${r.family} rule del priority ${r.priority}`] });
    }
    if (r.protocol !== SYMROUTE_PROTO && r.priority >= input.priorities.first && r.priority <= input.priorities.last)
      findings.push({ kind: "foreign-rule", message: `rule ${r.text} belongs to another tool but sits in symroute's priority range ${input.priorities.first}-${input.priorities.last}`, fix: [`move it out of the range (ip -${r.family} rule del priority ${r.priority}; add it again elsewhere)`, "or give symroute another range: allocate.priorities"] });
  }
  return findings;
}
