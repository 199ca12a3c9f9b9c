/**
 * The store's targets and drains as compile's inputs (issue 20), by the same
 * rules as the local registry: only balancers that take registrations, the
 * file's own target names win, never a command check, only the balancer's
 * conduits (when the member's interfaces are handed in), at most
 * registration.maxTargets (by name, so every member keeps the same ones), and
 * a registered target is drained only by its owner or a frontend's operator.
 * Pure and deterministic: every member given the same store and file builds
 * the same inputs, hence the same Maglev table.
 */
import type { ResolvedConfig } from "../config/resolved.js";
import type { LoadBalancer } from "../config/schema.js";
import { targetKey } from "../compile/allocate.js";
import type { RegisteredTarget } from "../compile/inputs.js";
import { placeProblems, type LinkAddresses } from "../daemon/registrationPlace.js";
import type { FleetState } from "./state.js";

type Target = LoadBalancer["targets"][number];

/** What the store adds to a member's inputs, and what it refused (with why, for the log and status). */
export interface StoreInputs {
  registered: RegisteredTarget[];
  /** "BALANCER/TARGET" of drains under way */
  targetsDraining: Set<string>;
  /** "BALANCER/TARGET" of drains whose deadline passed */
  targetsDrained: Set<string>;
  refused: { key: string; reason: string }[];
}

/**
 * Merges the store's records into inputs for `resolved`. `now` decides only
 * whether a drain is under way or finished (its deadline is in the record);
 * `links` (the member's interfaces and addresses) enables the conduit check,
 * which the daemon must pass: without it a record may name any interface.
 */
export function storeInputs(resolved: ResolvedConfig, state: FleetState, now: number, links?: LinkAddresses): StoreInputs {
  const out: StoreInputs = { registered: [], targetsDraining: new Set(), targetsDrained: new Set(), refused: [] };
  const byName = new Map(resolved.config.loadBalancers.map((lb) => [lb.name, lb]));
  const owners = new Map<string, string>();
  const entries = [...state.targets.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const counts = new Map<string, number>();
  for (const [key, record] of entries) {
    const lb = byName.get(record.balancer);
    const name = record.target.name;
    const refuse = (reason: string) => out.refused.push({ key, reason });
    if (!lb) {
      refuse(`no load balancer named '${record.balancer}' in ${resolved.file}`);
      continue;
    }
    if (!lb.registration) {
      refuse(`load balancer ${lb.name} takes no registrations`);
      continue;
    }
    if (lb.targets.some((t) => t.name === name)) {
      refuse(`target ${name} is one of ${lb.name}'s targets in ${resolved.file}; the file's targets win`);
      continue;
    }
    if (links) {
      const place = placeProblems(resolved.config, lb, record.target, links);
      if (place.length) {
        refuse(place.join("; "));
        continue;
      }
    }
    const n = counts.get(lb.name) ?? 0;
    if (n >= lb.registration.maxTargets) {
      refuse(`load balancer ${lb.name} already has ${n} registered targets, its registration.maxTargets`);
      continue;
    }
    counts.set(lb.name, n + 1);
    owners.set(targetKey(lb.name, name), record.owner);
    out.registered.push({ balancer: lb.name, target: record.target as Target });
  }
  for (const [key, drain] of state.drains) {
    const lb = byName.get(drain.balancer);
    const k = targetKey(drain.balancer, drain.target);
    const inFile = lb?.targets.some((t) => t.name === drain.target) ?? false;
    const owner = owners.get(k);
    if (!lb || (!inFile && owner === undefined)) continue; // a drain of a target that is not there: nothing to drain
    // a token drains only its own targets; the file's targets only a frontend's operator ("local")
    if (drain.owner !== "local" && drain.owner !== owner) {
      out.refused.push({ key, reason: `drain by ${drain.owner} of a target ${inFile ? "of the file" : `registered by ${owner}`}: only its owner or a frontend's operator drains it` });
      continue;
    }
    if (Date.parse(drain.deadline) <= now) out.targetsDrained.add(k);
    else out.targetsDraining.add(k);
  }
  return out;
}
