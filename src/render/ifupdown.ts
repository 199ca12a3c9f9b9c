/**
 * `render --format ifupdown`: `/etc/network/interfaces` stanzas in the shape
 * seed 001 writes by hand: per interface, `up` lines that build symroute's
 * state and `down` lines that take it away again, in reverse order. Every
 * `up` has its `down`: ifdown exits 0 even when a down line fails, so a
 * missing one goes unnoticed and leaves the host half configured.
 *
 * A sysctl's `down` must put back the value it had, which an offline render
 * cannot know (and a value read while rendering may be stale by boot time):
 * the `up` line saves the value in effect under /run/symroute (first up
 * only, so a second ifup without ifdown keeps the real original) and the
 * `down` line writes it back and removes the file.
 */
import type { Desired } from "../model/desired.js";
import { routeWords, ruleWords } from "../model/ipWords.js";
import { extraWords } from "../model/extra.js";
import type { NftRule } from "../model/nftTable.js";
import { parsePrefix, prefixContains } from "../net/ip.js";

type Json = Record<string, unknown>;

interface Stanza {
  up: string[];
  down: string[];
}

function arpMangle(rule: NftRule): { dev: string; address: string } | null {
  let dev: string | null = null;
  let address: string | null = null;
  for (const s of rule.statements) {
    const m = s.json.match as { left: Json; right: unknown } | undefined;
    if (m && (m.left.meta as Json | undefined)?.key === "oifname") dev = String(m.right);
    const g = s.json.mangle as { key: Json; value: unknown } | undefined;
    if (g) address = String(g.value);
  }
  return dev && address ? { dev, address } : null;
}

function masqueradeOf(rule: NftRule): { dev: string; source: string } | null {
  if (!rule.statements.some((s) => "masquerade" in s.json)) return null;
  let dev: string | null = null;
  let source: string | null = null;
  for (const s of rule.statements) {
    const m = s.json.match as { left: Json; right: unknown } | undefined;
    if (!m) continue;
    if ((m.left.meta as Json | undefined)?.key === "oifname") dev = String(m.right);
    if (m.left.payload) {
      const p = (m.right as { prefix?: { addr: string; len: number } }).prefix;
      source = p ? `${p.addr}/${p.len}` : String(m.right);
    }
  }
  return dev && source ? { dev, source } : null;
}

/** Where `up` lines keep the sysctl values they replaced (tmpfs: a boot starts afresh, as the kernel does). */
export const IFUPDOWN_SAVE_DIR = "/run/symroute";

/**
 * The file holding a sysctl's value from before `up`: the key in dotted form
 * (unambiguous here: interface names never hold a slash, setting names never a dot).
 */
export function sysctlSaveFile(dev: string, key: string): string {
  return `${IFUPDOWN_SAVE_DIR}/ifupdown-${dev}-${key.replace(/\//g, ".")}`;
}

/** The stanzas. */
export function renderIfupdown(desired: Desired): string {
  const stanzas = new Map<string, Stanza>();
  const order: string[] = [];
  const at = (dev: string) => {
    if (!stanzas.has(dev)) {
      stanzas.set(dev, { up: [], down: [] });
      order.push(dev);
    }
    return stanzas.get(dev)!;
  };
  // `down` is not optional: every line that changes the kernel is undone by ifdown
  const add = (dev: string, up: string, down: string) => {
    const s = at(dev);
    s.up.push(up);
    s.down.unshift(down);
  };
  for (const e of desired.extras ?? []) add(e.dev, `ip -${e.family} ${extraWords(e, "add").join(" ")}`, `ip -${e.family} ${extraWords(e, "del").join(" ")}`);
  for (const r of desired.routes) add(r.dev ?? "lo", `ip -${r.family} route add ${routeWords(r).join(" ")}`, `ip -${r.family} route del ${routeWords(r).join(" ")}`);
  for (const r of desired.rules) {
    const dev = r.iif ?? desired.routes.find((x) => x.table === r.table && x.family === r.family && x.dev)?.dev ?? order[0] ?? "lo";
    add(dev, `ip -${r.family} rule add ${ruleWords(r).join(" ")}`, `ip -${r.family} rule del ${ruleWords(r).join(" ")}`);
  }
  for (const s of desired.sysctls) {
    const m = /^net\/ipv[46]\/(?:conf|neigh)\/([^/]+)\//.exec(s.key);
    const dev = m && m[1] !== "all" && m[1] !== "default" ? m[1] : order[0] ?? "lo";
    const saved = sysctlSaveFile(dev, s.key);
    add(
      dev,
      `mkdir -p ${IFUPDOWN_SAVE_DIR} && { test -e ${saved} || cat /proc/sys/${s.key} > ${saved}; } && sysctl -q -w ${s.key}=${s.value}`,
      `sysctl -q -w ${s.key}="$(cat ${saved})" && rm ${saved}`,
    );
  }
  for (const rule of desired.nftArp?.rules ?? []) {
    const a = arpMangle(rule);
    if (a) add(a.dev, `arptables -A OUTPUT -o ${a.dev} --opcode Request -j mangle --mangle-ip-s ${a.address}`, `arptables -D OUTPUT -o ${a.dev} --opcode Request -j mangle --mangle-ip-s ${a.address}`);
  }
  let otherNft = false;
  for (const rule of desired.nft?.rules ?? []) {
    const m = masqueradeOf(rule);
    if (!m) {
      otherNft = true;
      continue;
    }
    const src = parsePrefix(m.source);
    const holder = (desired.extras ?? []).find((e) => e.kind === "addr" && src && prefixContains(src, parsePrefix(e.address)!));
    const tool = src?.family === 6 ? "ip6tables" : "iptables";
    add(holder?.dev ?? order[0] ?? m.dev, `${tool} -t nat -A POSTROUTING -o ${m.dev} -s ${m.source} -j MASQUERADE`, `${tool} -t nat -D POSTROUTING -o ${m.dev} -s ${m.source} -j MASQUERADE`);
  }
  const out = [
    "# /etc/network/interfaces stanzas for symroute's state: put each stanza's lines into your own stanza",
    "# for the interface, after its address lines (ifdown runs them before it takes the interface down);",
    `# sysctls: up saves the value in effect under ${IFUPDOWN_SAVE_DIR}, down puts it back`,
  ];
  if (otherNft) out.push("# the connection marks and load balancers are nftables rules: load `symroute render --format nft` with nftables.service");
  for (const dev of order) {
    const s = stanzas.get(dev)!;
    // no `up ip link set dev X up`: the method (manual, static) raises the link itself and takes it down on ifdown
    out.push("", `auto ${dev}`, `iface ${dev} inet manual`, ...s.up.map((l) => `    up ${l}`), ...s.down.map((l) => `    down ${l}`));
  }
  return out.join("\n") + "\n";
}
