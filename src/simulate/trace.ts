/**
 * `symroute trace`: a packet walked through symroute's marks (connmark by
 * uplink, service marks, the load balancers' hash) and the kernel's routing
 * decision, and, with `reply`, its answer walked back, to say whether it
 * leaves by the interface the request came in on.
 */
import type { BalancerInfo } from "../model/balancer.js";
import type { MarkPlan } from "../model/desired.js";
import { decide } from "./route.js";
import { addressBytes, balancerTarget } from "./balancer.js";
import { fastPathForward, fastPathVerdict } from "./fastPath.js";
import { jhash, scaleToMod } from "./jhash.js";
import { parseAddress, parsePrefix, prefixContains } from "../net/ip.js";
import type { Decision, KernelView, Packet, RouteResult, Step } from "./types.js";
import { hex } from "../model/rule.js";

/** symroute's own nft behaviour, as applied (or as a config would apply it). */
export interface NftModel {
  marks?: MarkPlan;
  balancers?: BalancerInfo[];
  /** balancers with flow memory: the target that remembers the traced flow (null: none does), read from the kernel */
  remembered?: Map<string, string | null>;
}

/** A traced packet: its decision and, when asked, its reply's. */
export interface Trace {
  result: RouteResult;
  steps: Step[];
  mark: number;
  reply?: { packet: Packet; result: RouteResult; steps: Step[]; sameInterface: boolean | null; sameAddress: boolean | null };
}

function setMasked(mark: number, mask: number, value: number): number {
  return ((mark & ~mask) | value) >>> 0;
}

/** Applies symroute's marking to a packet; returns the mark and the steps, and the connection mark it leaves. */
function applyNft(model: NftModel, p: Packet, restoredCtMark: number | null): { mark: number; ctMark: number | null; steps: Step[] } {
  const steps: Step[] = [];
  let mark = p.mark ?? 0;
  let ctMark = restoredCtMark;
  const m = model.marks;
  const uplinkOf = (dev?: string) => m?.uplinks.find((u) => u.connmark && u.interface === dev);
  for (const b of model.balancers ?? []) {
    if (!b.vips.includes(p.dst)) continue;
    const ports = p.proto === 6 || p.proto === 17 || p.proto === 132 ? { sport: p.sport ?? 0, dport: p.dport ?? 0 } : undefined;
    const fast = fastPathVerdict(b, p);
    if (fast?.taken === false) steps.push({ kind: "nft", text: `load balancer ${b.name}: fast path not taken: ${fast.why}; the routed path decides` });
    if (b.flowMemory && ports && p.syn && p.proto === 6) steps.push({ kind: "nft", text: `load balancer ${b.name}: a new TCP connection (SYN): the Maglev table decides, and every target forgets the 4-tuple` });
    else if (b.flowMemory && ports && model.remembered?.has(b.name)) {
      const name = model.remembered.get(b.name);
      const target = b.targets.find((t) => t.name === name && t.state !== "down");
      if (target) {
        mark = setMasked(mark, m?.mask ?? 0x00ff0000, target.mark);
        steps.push({ kind: "nft", text: `load balancer ${b.name}: served from flow memory: the flow is remembered on target ${target.name}${target.state === "draining" ? " (draining: it keeps its remembered flows)" : ""}, meta mark set ${hex(target.mark)}` });
        return { mark, ctMark, steps };
      }
      steps.push({ kind: "nft", text: `load balancer ${b.name}: flow memory: not remembered, so the Maglev table decides (and the target will remember it)` });
    }
    const hit = balancerTarget(b, p.src ?? "", p.dst, ports);
    if (!hit) {
      steps.push({ kind: "nft", text: `load balancer ${b.name}: no target for the flow` });
      continue;
    }
    mark = setMasked(mark, m?.mask ?? 0x00ff0000, hit.target.mark);
    steps.push({ kind: "nft", text: `load balancer ${b.name}: jhash of the flow (seed ${hex(b.seed)}) mod ${b.size} = entry ${hit.entry} -> target ${hit.target.name}, meta mark set ${hex(hit.target.mark)}` });
    return { mark, ctMark, steps };
  }
  if (m) {
    const up = uplinkOf(p.iif);
    if (up) {
      ctMark = up.mark;
      steps.push({ kind: "nft", text: `prerouting: arrived on uplink ${up.name} (${up.interface}): ct mark set ${hex(up.mark)}; its replies will carry it` });
    } else if (ctMark !== null) {
      mark = setMasked(mark, m.mask, ctMark);
      steps.push({ kind: "nft", text: `${p.iif ? "prerouting" : "output"}: connection marked by an uplink: meta mark set ${hex(ctMark)} (restored from ct mark)` });
    }
    // a new connection (no ct mark yet) from an outbound policy's prefixes, forwarded or the host's own: drawn
    if (ctMark === null && !up && p.src && !m.uplinks.some((u) => u.interface === p.iif)) {
      const drawn = drawOutbound(m, p.src, p.iif ? "prerouting" : "output");
      if (drawn) {
        mark = setMasked(mark, m.mask, drawn.mark);
        ctMark = drawn.mark;
        steps.push({ kind: "nft", text: drawn.text });
      }
    }
    if (!p.iif && p.src) {
      const pinned = m.sources.find((s) => s.address === p.src);
      if (pinned) {
        mark = setMasked(mark, m.mask, pinned.mark);
        steps.push({ kind: "nft", text: `output: source ${p.src} is pinned by a service: meta mark set ${hex(pinned.mark)}` });
      }
    }
  }
  return { mark, ctMark, steps };
}

/**
 * The uplink an outbound policy gives a new connection from `src` now: with
 * `sticky: source` the kernel's jhash of the address names it; drawn at random,
 * the trace follows the uplink with the largest share and says the shares.
 */
function drawOutbound(m: MarkPlan, src: string, hook: string): { mark: number; text: string } | null {
  const a = parseAddress(src);
  if (!a) return null;
  for (const policy of m.outbound ?? []) {
    const inside = policy.from.some((f) => {
      const pre = parsePrefix(f);
      return pre !== null && pre.family === a.family && prefixContains(pre, a);
    });
    if (!inside) continue;
    if (policy.draw.length === 0) return { mark: 0, text: `${hook}: outbound ${policy.name}: no uplink is live; the main table decides` };
    const shares = policy.draw.map((d) => `${d.uplink} ${(((d.last - d.first + 1) / policy.total) * 100).toFixed(0)}%`).join(", ");
    if (policy.sticky === "source") {
      const n = scaleToMod(jhash(Uint8Array.from(addressBytes(a)), policy.seed), policy.total);
      const d = policy.draw.find((x) => n >= x.first && n <= x.last)!;
      return { mark: d.mark, text: `${hook}: outbound ${policy.name}: new connection, jhash of ${src} (seed ${hex(policy.seed)}) mod ${policy.total} = ${n} -> uplink ${d.uplink} (${shares}): ct and meta mark set ${hex(d.mark)}` };
    }
    const d = [...policy.draw].sort((x, y) => y.last - y.first - (x.last - x.first))[0];
    return { mark: d.mark, text: `${hook}: outbound ${policy.name}: new connection drawn at random among ${shares}; this trace follows ${d.uplink}: ct and meta mark set ${hex(d.mark)}` };
  }
  return null;
}

function withMark(p: Packet, mark: number): Packet {
  return mark ? { ...p, mark } : p;
}

/** The fast path's forward, when a balancer's fast path takes the packet: the same target as the routed path, with no routing. */
function fastForward(model: NftModel, p: Packet): Trace | null {
  for (const b of model.balancers ?? []) {
    if (fastPathVerdict(b, p)?.taken !== true) continue;
    const nft = applyNft({ ...model, marks: undefined }, { ...p, iif: undefined, mark: 0 }, null);
    const target = b.targets.find((t) => t.mark === nft.mark);
    if (!target) return null;
    const via = p.family === 4 ? target.via : target.via6;
    return { result: { type: "unicast", dev: target.interface, ...(via ? { via } : {}) }, steps: [...nft.steps, { kind: "verdict", text: fastPathForward(b, target, p) }], mark: nft.mark };
  }
  return null;
}

/** Traces a packet, and its reply when asked. */
export function trace(view: KernelView, model: NftModel, p: Packet, reply = false): Trace {
  const fast = fastForward(model, p);
  if (fast) return fast;
  const first = applyNft(model, p, null);
  const d: Decision = decide(view, withMark(p, first.mark));
  const out: Trace = { result: d.result, steps: [...first.steps, ...d.steps], mark: first.mark };
  if (!reply) return out;
  const local = d.result.type === "local";
  const back: Packet = {
    family: p.family,
    src: p.dst,
    dst: p.src ?? "",
    ...(p.proto !== undefined ? { proto: p.proto } : {}),
    ...(p.dport !== undefined ? { sport: p.dport } : {}),
    ...(p.sport !== undefined ? { dport: p.sport } : {}),
    ...(!local && d.result.dev ? { iif: d.result.dev } : {}),
  };
  if (!back.dst) return out;
  const nft = applyNft(model, back, first.ctMark);
  const rd = decide(view, withMark(back, nft.mark));
  const sameInterface = p.iif ? rd.result.dev === p.iif : null;
  const sameAddress = local ? (rd.result.src ?? back.src) === p.dst : null;
  out.reply = { packet: back, result: rd.result, steps: [...nft.steps, ...rd.steps], sameInterface, sameAddress };
  return out;
}
