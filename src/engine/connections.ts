/**
 * Writes the daemon asks for beside a reconcile, through the engine like every
 * other write (issue 18, item 3): the connections of a dead uplink deleted
 * from conntrack once new ones leave elsewhere, and the count of the flows a
 * draining target still has in flow memory.
 */
import { ProcessRunner } from "../kernel/runner.js";
import { deleteConntrackByMark } from "../kernel/conntrack.js";
import type { BalancerInfo } from "../model/balancer.js";
import { rememberedFlows } from "./balancers.js";

/** Deletes the conntrack entries whose mark, under `mask`, is `mark`; returns how many went. */
export function deleteConnectionsByMark(opts: { netns?: string }, mark: number, mask: number): Promise<number> {
  return deleteConntrackByMark(new ProcessRunner(opts.netns), mark, mask);
}

/** Remembered flows per target ("BALANCER/TARGET") of the balancers with flow memory; throws when the kernel cannot be read. */
export function rememberedFlowsIn(opts: { netns?: string }, balancers: BalancerInfo[]): Promise<Map<string, number>> {
  return rememberedFlows(new ProcessRunner(opts.netns), balancers);
}
