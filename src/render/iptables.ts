/**
 * `render --format iptables`: symroute's marking as iptables-save mangle
 * rules (seed 004's own format), for hosts that load Netfilter with
 * iptables-restore. Translates the few nft statements symroute emits.
 */
import type { Desired } from "../model/desired.js";
import type { NftRule } from "../model/nftTable.js";
import { hex } from "../model/rule.js";

type Json = Record<string, unknown>;

/** iptables-save text for IPv4 and, when needed, IPv6. */
export function renderIptables(desired: Desired): string {
  if (!desired.nft) return "# symroute sets no Netfilter marks for this config\n";
  const out: string[] = [];
  // Maglev hashing (jhash into a verdict map) has no iptables form; only the uplink and service marks do
  // outbound policies draw an uplink with numgen/jhash verdict maps, which have no iptables form either
  const drawn = (r: NftRule) => r.statements.some((s) => { const key = (s.json.vmap as { key?: Json } | undefined)?.key; return key !== undefined && ("numgen" in key || "jhash" in key); });
  const rules = desired.nft.rules.filter((r) => (r.chain === "prerouting" || r.chain === "output") && !drawn(r));
  if (rules.length < desired.nft.rules.filter((r) => r.chain === "prerouting" || r.chain === "output").length)
    out.push("# outbound policies choose uplinks with nft numgen/jhash maps, which iptables cannot express: load them with `render --format nft`");
  if (desired.balancers?.length) out.push("# load balancers hash flows with nft jhash maps, which iptables cannot express: load them with `render --format nft`");
  for (const family of [4, 6] as const) {
    const lines = ruleLines(rules, family, desired.nft.rules);
    if (lines === null) continue;
    out.push(`# ${family === 4 ? "iptables-restore --noflush" : "ip6tables-restore --noflush"}`);
    out.push("*mangle", ":SYMROUTE-PRE - [0:0]", ":SYMROUTE-OUT - [0:0]", "-A PREROUTING -j SYMROUTE-PRE", "-A OUTPUT -j SYMROUTE-OUT", ...lines, "COMMIT");
  }
  return out.join("\n") + "\n";
}

function ruleLines(rules: NftRule[], family: 4 | 6, all: NftRule[]): string[] | null {
  const lines: string[] = [];
  for (const rule of rules) {
    const chain = rule.chain === "prerouting" ? "SYMROUTE-PRE" : "SYMROUTE-OUT";
    const exprs = rule.statements.map((s) => s.json);
    const saddrFamily = exprs.map(payloadFamily).find((f) => f !== null);
    if (saddrFamily !== undefined && saddrFamily !== family) continue;
    const negated = exprs.map(negatedIifnames).find((n) => n !== null);
    if (negated) {
      // iptables cannot negate a list: jump past uplink traffic with one RETURN chain
      const sub = `${chain}-NU`;
      if (!lines.includes(`:${sub} - [0:0]`)) {
        lines.unshift(`:${sub} - [0:0]`);
        for (const dev of negated) lines.push(`-A ${chain} -i ${dev} -j RETURN`);
      }
    }
    const jumps = exprs.map(jumpEntries).find((j) => j !== null);
    const words = exprs.filter((e) => !e.vmap).flatMap((e) => translate(e));
    if (!jumps) {
      lines.push(`-A ${chain} ${words.join(" ")}`);
      continue;
    }
    // a jump map becomes one line per entry: its key as a match, the target chain's statements as the action
    for (const { match, target } of jumps)
      for (const inner of all.filter((r) => r.chain === target))
        lines.push(`-A ${chain} ${[...words, ...match, ...inner.statements.flatMap((s) => translate(s.json))].join(" ")}`);
  }
  return lines.length ? lines.filter((l) => !/^:SYMROUTE-(PRE|OUT)-NU/.test(l)) : null;
}

function payloadFamily(e: Json): 4 | 6 | null {
  const m = e.match as Json | undefined;
  const p = (m?.left as Json | undefined)?.payload as Json | undefined;
  if (!p) return null;
  return p.protocol === "ip" ? 4 : 6;
}

function negatedIifnames(e: Json): string[] | null {
  const m = e.match as Json | undefined;
  if (!m || m.op !== "!=") return null;
  const right = m.right as unknown;
  if (typeof right === "string") return [right];
  return ((right as Json).set as string[]) ?? null;
}

/** The entries of `iifname vmap { ... }` or `ct mark & MASK vmap { ... }`, each as iptables match words and the chain it jumps to. */
function jumpEntries(e: Json): { match: string[]; target: string }[] | null {
  const vmap = e.vmap as { key: Json; data: unknown } | undefined;
  const set = (vmap?.data as Json | undefined)?.set as [string | number, { jump: { target: string } }][] | undefined;
  if (!vmap || !set) return null;
  const and = vmap.key["&"] as [Json, number] | undefined;
  return set.map(([k, verdict]) => ({
    match: typeof k === "string" ? ["-i", k] : ["-m", "connmark", "--mark", `${hex(k)}/${hex(and![1])}`],
    target: verdict.jump.target,
  }));
}

function translate(e: Json): string[] {
  if (e.match) {
    const m = e.match as { op: string; left: Json; right: unknown };
    const left = m.left;
    if ((left.meta as Json | undefined)?.key === "iifname") return m.op === "!=" ? [] : ["-i", String(m.right)];
    if ((left.meta as Json | undefined)?.key === "oifname") return ["-o", String(m.right)];
    const and = left["&"] as [Json, number] | undefined;
    if (and && (and[0].ct as Json | undefined)?.key === "mark") return ["-m", "connmark", "--mark", `${hex(m.right as number)}/${hex(and[1])}`];
    if (and && (and[0].meta as Json | undefined)?.key === "mark") return ["-m", "mark", "--mark", `${hex(m.right as number)}/${hex(and[1])}`];
    if (left.payload) {
      const items = typeof m.right === "object" && m.right !== null && "set" in (m.right as Json) ? ((m.right as Json).set as unknown[]) : [m.right];
      return ["-s", items.map((i) => (typeof i === "string" ? i : `${((i as Json).prefix as Json).addr}/${((i as Json).prefix as Json).len}`)).join(",")];
    }
  }
  if (e.mangle) {
    const g = e.mangle as { key: Json; value: { "|": [{ "&": [Json, number] }, number] } };
    const [inner, value] = g.value["|"];
    const mask = ~inner["&"][1] >>> 0;
    const target = g.key.ct ? "CONNMARK" : "MARK";
    return ["-j", target, "--set-xmark", `${hex(value)}/${hex(mask)}`];
  }
  if ("counter" in e) return [];
  throw new Error(`no iptables form for ${JSON.stringify(e)}`);
}
