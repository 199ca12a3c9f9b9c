/**
 * Names shared by whoever writes a kernel object and whoever reads it back
 * (issue 18, item 4): the key of a balancer's target, and what each of a
 * balancer's nft rules is, written into its comment by compile and read back
 * by the engine's counters and the live trace. One module, so the writer and
 * the readers cannot drift apart.
 */

/** "BALANCER/TARGET": how allocation, health checks, drains and the API key a target. */
export function targetKey(balancer: string, target: string): string {
  return `${balancer}/${target}`;
}

/** The balancer and target of a key (names never hold "/": the schema's name pattern). */
export function parseTargetKey(key: string): { balancer: string; target: string } {
  const slash = key.indexOf("/");
  return slash < 0 ? { balancer: key, target: "" } : { balancer: key.slice(0, slash), target: key.slice(slash + 1) };
}

/** What one of a balancer's rules does. */
export type LbRule =
  | { kind: "to vip" }
  | { kind: "replies" }
  | { kind: "local errors" }
  | { kind: "errors follow" }
  | { kind: "flow"; flow: string }
  | { kind: "no flow" }
  | { kind: "lookup" }
  | { kind: "entries"; first: number; last: number }
  | { kind: "memory"; target: string }
  | { kind: "not remembered" }
  | { kind: "syn" }
  | { kind: "syn forgets"; target: string }
  | { kind: "new connection" }
  | { kind: "target"; target: string }
  | { kind: "fast entry" }
  | { kind: "fast flow"; flow: string }
  | { kind: "fast target"; target: string };

/** The words of a rule without a name in it. */
const FIXED: Record<string, LbRule["kind"]> = {
  "to a VIP": "to vip",
  "replies from a VIP": "replies",
  "local ICMP errors from the VIP": "local errors",
  "ICMP errors follow their flow": "errors follow",
  "no flow matched": "no flow",
  "Maglev lookup": "lookup",
  "not remembered": "not remembered",
  "a new connection takes the table's decision": "syn",
  "new connection": "new connection",
  "to a VIP, unfragmented, hops left": "fast entry",
};

/** The comment of a balancer's rule, as people read it in `nft list` ("stream-a: target target-a"). */
export function lbComment(balancer: string, rule: LbRule): string {
  const what = (() => {
    switch (rule.kind) {
      case "flow":
        return `flow ${rule.flow}`;
      case "entries":
        return `Maglev entries ${rule.first}-${rule.last}`;
      case "memory":
        return `flow memory of ${rule.target}`;
      case "syn forgets":
        return `a new connection forgets ${rule.target}'s`;
      case "target":
        return `target ${rule.target}`;
      case "fast flow":
        return `fast path, flow ${rule.flow}`;
      case "fast target":
        return `fast path to ${rule.target}`;
      default:
        return Object.keys(FIXED).find((k) => FIXED[k] === rule.kind)!;
    }
  })();
  return `${balancer}: ${what}`;
}

/** The balancer and rule a comment names; null for a comment compile did not write for a balancer. */
export function parseLbComment(comment: string): { balancer: string; rule: LbRule } | null {
  const colon = comment.indexOf(": ");
  if (colon < 0) return null;
  const balancer = comment.slice(0, colon);
  const what = comment.slice(colon + 2);
  const fixed = FIXED[what];
  if (fixed) return { balancer, rule: { kind: fixed } as LbRule };
  const rule = parseNamed(what);
  return rule ? { balancer, rule } : null;
}

function parseNamed(what: string): LbRule | null {
  let m: RegExpExecArray | null;
  if ((m = /^flow memory of (.+)$/.exec(what))) return { kind: "memory", target: m[1] };
  if ((m = /^fast path, flow (.+)$/.exec(what))) return { kind: "fast flow", flow: m[1] };
  if ((m = /^fast path to (.+)$/.exec(what))) return { kind: "fast target", target: m[1] };
  if ((m = /^a new connection forgets (.+)'s$/.exec(what))) return { kind: "syn forgets", target: m[1] };
  if ((m = /^Maglev entries ([0-9]+)-([0-9]+)$/.exec(what))) return { kind: "entries", first: Number(m[1]), last: Number(m[2]) };
  if ((m = /^flow (.+)$/.exec(what))) return { kind: "flow", flow: m[1] };
  if ((m = /^target (.+)$/.exec(what))) return { kind: "target", target: m[1] };
  return null;
}
