/**
 * Why a reconcile runs, as data (issue 18, item 4): the daemon decides from a
 * reason's kind (re-target the probes after an address or link event), never
 * from its text; the text is only for logs and the API, as it was before.
 */
import type { EventKind } from "./events.js";

/** What a target went through. */
export type TargetChange = "up" | "down" | "registered" | "removed" | "draining" | "undrained" | "refused" | "drain finished" | "lease expired";

/** One reason for a reconcile. */
export type Reason =
  | { kind: "start" }
  | { kind: "reload" }
  | { kind: "interval" }
  | { kind: "retry" }
  | { kind: "events lost" }
  | { kind: "kernel event"; object: EventKind }
  | { kind: "uplink"; uplink: string; to: "up" | "down" }
  | { kind: "target"; target: string; change: TargetChange };

/** A reason as logs and the API have always shown it ("uplink isp1 down", "route event", ...). */
export function reasonText(r: Reason): string {
  switch (r.kind) {
    case "kernel event":
      return `${r.object} event`;
    case "uplink":
      return `uplink ${r.uplink} ${r.to}`;
    case "target":
      return r.change === "drain finished" ? `drain of ${r.target} finished` : r.change === "lease expired" ? `lease of ${r.target} expired` : `target ${r.target} ${r.change}`;
    default:
      return r.kind;
  }
}

/** The reasons of one reconcile as one line; a long burst is counted rather than listed. */
export function reasonsText(reasons: readonly Reason[]): string {
  const texts = [...new Set(reasons.map(reasonText))];
  if (texts.length === 0) return "interval";
  if (texts.length > 3) {
    const targets = reasons.filter((r) => r.kind === "target").length;
    return targets === reasons.length ? `${texts.length} target changes` : `${texts.slice(0, 3).join(", ")} and ${texts.length - 3} more`;
  }
  return texts.join(", ");
}

/** True when an interface's addresses or links may have moved: the probes are aimed again after such a reconcile. */
export function movesAddresses(reasons: readonly Reason[]): boolean {
  return reasons.some((r) => r.kind === "kernel event" && (r.object === "address" || r.object === "link"));
}
