/**
 * Reads what the simulator needs (rules, routes of every table, addresses, as
 * rows that simulate/ parses)
 * in one `ip -batch` per family, and asks the kernel itself for decisions
 * (`ip route get`, many per process) for the differential tests and bench.
 */
import type { Runner } from "./runner.js";
import { arrays, readIpRows } from "./ipState.js";
import type { Packet, RouteResult } from "../model/packet.js";

type Row = Record<string, unknown>;

/** The kernel's rules, routes and addresses as \`ip -j\` rows, and the interface names: what the simulator's view is parsed from. */
export async function readKernelRows(runner: Runner): Promise<{ rows: { rules4: Row[]; rules6: Row[]; routes4: Row[]; routes6: Row[]; addrs: Row[] }; links: string[] }> {
  const { rules4, routes4, links, addrs4, rules6, routes6, addrs6 } = await readIpRows(runner);
  return { rows: { rules4, rules6, routes4, routes6, addrs: [...addrs4, ...addrs6] }, links: links.map((l) => String(l.ifname)) };
}

/** `ip route get` words for a packet. */
export function routeGetWords(p: Packet): string[] {
  const w = ["route", "get", p.dst];
  if (p.src) w.push("from", p.src);
  if (p.iif) w.push("iif", p.iif);
  if (p.oif) w.push("oif", p.oif);
  if (p.mark !== undefined) w.push("mark", String(p.mark));
  if (p.proto !== undefined) w.push("ipproto", String(p.proto));
  if (p.sport !== undefined) w.push("sport", String(p.sport));
  if (p.dport !== undefined) w.push("dport", String(p.dport));
  if (p.uid !== undefined) w.push("uid", String(p.uid));
  return w;
}

const ERRORS: [RegExp, RouteResult][] = [
  [/Network is unreachable/, { type: "unreachable", error: "ENETUNREACH" }],
  [/No route to host/, { type: "unreachable", error: "EHOSTUNREACH" }],
  [/Permission denied/, { type: "prohibit", error: "EACCES" }],
  [/Invalid argument/, { type: "blackhole", error: "EINVAL" }],
];

/** Asks the kernel for many decisions in one process per family (`ip -force -batch`). */
export async function kernelDecisions(runner: Runner, packets: Packet[]): Promise<RouteResult[]> {
  const out = new Array<RouteResult>(packets.length);
  for (const family of [4, 6] as const) {
    const idx = packets.map((p, i) => ({ p, i })).filter(({ p }) => p.family === family);
    if (idx.length === 0) continue;
    const res = await runner.run(["ip", `-${family}`, "-j", "-force", "-batch", "-"], { stdin: idx.map(({ p }) => routeGetWords(p).join(" ")).join("\n") + "\n", allowFailure: true });
    const failed = new Map<number, string>();
    const errLines = res.stderr.split("\n");
    for (let k = 0; k < errLines.length; k++) {
      const m = /^Command failed -:(\d+)/.exec(errLines[k]);
      if (m) failed.set(Number(m[1]), errLines[k - 1] ?? "");
    }
    const json = arrays(res.stdout) as Row[][];
    let next = 0;
    idx.forEach(({ i }, line) => {
      const err = failed.get(line + 1);
      if (err !== undefined) {
        out[i] = ERRORS.find(([re]) => re.test(err))?.[1] ?? { type: "unreachable", error: "ENETUNREACH" };
        return;
      }
      const row = json[next++]?.[0] ?? {};
      const type = row.type === undefined || row.type === "unicast" ? "unicast" : (String(row.type) as RouteResult["type"]);
      out[i] = {
        type,
        ...(row.table !== undefined ? { table: String(row.table) } : {}),
        ...(row.dev !== undefined ? { dev: String(row.dev) } : {}),
        ...(row.gateway !== undefined ? { via: String(row.gateway) } : {}),
        // the packet carries the address it was sent from when one was given; else the kernel's choice
        ...(row.from !== undefined && row.from !== "::" ? { src: String(row.from) } : row.prefsrc !== undefined ? { src: String(row.prefsrc) } : {}),
      };
    });
  }
  return out;
}
