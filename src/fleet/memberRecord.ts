/**
 * A member's record built from what it compiled (issue 20): the daemon hands
 * in its merged config (file plus store targets) and its inputs after each
 * reconcile, and publishes the result with MemberPublisher. Pure, so the
 * record two members publish for the same inputs is the same.
 */
import type { Config } from "../config/schema.js";
import { balancerInputs, type TargetSets } from "./fingerprint.js";
import type { BalancerInputs, MemberRecord } from "./records.js";

/** What a member knows after a reconcile. */
export interface MemberFacts {
  member: string;
  /** the config revision applied; null when the member runs its local file */
  appliedRevision: number | null;
  /** the config with the registered targets merged in (withRegistered) */
  merged: Config;
  sets: TargetSets;
  vipsAnnounced: readonly string[];
  lastReconcile: number | null;
  storeConnected: boolean;
  now: number;
}

/** The record a member publishes for these facts. */
export function memberRecordOf(f: MemberFacts): MemberRecord {
  const balancers: Record<string, BalancerInputs> = {};
  for (const lb of f.merged.loadBalancers) balancers[lb.name] = balancerInputs(lb, f.sets);
  return {
    version: 1,
    member: f.member,
    appliedRevision: f.appliedRevision,
    balancers,
    targetsDown: [...f.sets.targetsDown].sort(),
    vipsAnnounced: [...f.vipsAnnounced].sort(),
    lastReconcile: f.lastReconcile === null ? null : new Date(f.lastReconcile).toISOString(),
    storeConnected: f.storeConnected,
    updatedAt: new Date(f.now).toISOString(),
  };
}
