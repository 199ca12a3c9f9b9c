/**
 * apply: snapshot, journal, execute, read back and verify; on any failure put
 * the snapshot back. Re-running with the same desired state writes nothing.
 */
import type { Runner } from "../kernel/runner.js";
import type { Desired } from "../model/desired.js";
import type { IdRange } from "../config/resolved.js";
import { makePlan, isEmptyPlan, nftDesiredText, type Plan } from "../plan/plan.js";
import { formatPlan } from "../plan/format.js";
import { readLive, type LiveObjects } from "../kernel/live.js";
import { readNftTable } from "../kernel/nft.js";
import { listingChanged, listingFingerprint, withAppliedElements, type NftObject } from "../plan/nftListing.js";
import type { NftTable } from "../model/nftTable.js";
import { NFT_TABLE } from "../compile/index.js";
import type { StateFile } from "../kernel/state.js";
import { probeFeature } from "../kernel/features.js";
import { announce } from "../kernel/announce.js";
import { executePlan, type ExecuteHooks } from "./execute.js";
import { rollback } from "./rollback.js";
import type { Snapshot } from "./snapshot.js";
import type { LiveState } from "../plan/live.js";
import { SYMROUTE_PROTO } from "../model/ownership.js";
import { extraKey, type Extra } from "../model/extra.js";
import { kindOf, type ErrorKind } from "../model/errorKind.js";

/** apply was refused before touching the kernel (exit 1). */
export class RefusedError extends Error {
  readonly kind: ErrorKind = "refused";
  constructor(message: string) {
    super(message);
    this.name = "RefusedError";
  }
}

/** The kernel read back after an apply does not match it: most often another writer changed it meanwhile, so a retry. */
export class VerifyError extends Error {
  readonly kind = "retryable" as const;
  constructor(message: string) {
    super(`verify: ${message}`);
    this.name = "VerifyError";
  }
}

/**
 * apply was refused because foreign objects stand in symroute's way: a human at
 * the command line decides (move them, or `--allow-conflicts` to apply around).
 * The conflicts come as data, so no caller reads them out of the message.
 */
export class ConflictError extends RefusedError {
  override readonly kind: ErrorKind = "conflict";
  constructor(readonly conflicts: string[]) {
    super(`conflicts with objects symroute does not own (left alone; --allow-conflicts applies everything else):\n  ${conflicts.join("\n  ")}`);
    this.name = "ConflictError";
  }
}

/** An apply stopped by a signal; it rolls back like any failure. */
export class InterruptedError extends Error {
  /** stopped on purpose: nothing to retry */
  readonly kind = "refused" as const;
  constructor(readonly signal: string) {
    super(`interrupted by ${signal}`);
    this.name = "InterruptedError";
  }
}

export interface ApplyRequest {
  runner: Runner;
  desired: Desired;
  /** the state as read under the lock; the apply's own writes go through `save` */
  state: StateFile;
  save: (state: StateFile) => void;
  /** aborted by SIGTERM or SIGINT: checked before every step, and the change is rolled back */
  abort?: AbortSignal;
  priorities: IdRange;
  file?: string;
  /** apply every change no foreign object stands on, and report the conflicts (the daemon); else refuse */
  allowConflicts?: boolean;
  hooks?: ExecuteHooks;
  /** destroy: forget the originals it restored and the applied record */
  destroying?: boolean;
  /** the kernel's objects, when their reading was started earlier (beside compile) */
  prefetched?: Promise<LiveObjects>;
  /** sysctl values read moments ago (the facts' rp_filter), not read again */
  knownSysctls?: Record<string, string>;
}

export interface ApplyOutcome {
  plan: Plan;
  changed: boolean;
  /** the state file as this apply left it */
  state: StateFile;
  /** set when the apply failed and the snapshot was put back */
  rolledBack?: { error: string; restored: boolean; kind: ErrorKind };
  /** the state before this apply, for --confirm-timeout */
  snapshot?: Snapshot;
}

/** Sysctl keys plan must read: the desired ones and every one with an original to restore. */
function sysctlKeys(desired: Desired, state: StateFile): string[] {
  return [...desired.sysctls.map((s) => s.key), ...Object.keys(state.sysctlOriginals)];
}

/**
 * Whether symroute's arp table may exist or be wanted: a config with routed
 * networks, a state that recorded one, or an apply cut short. (`destroy`
 * always looks, in case the state file was lost.)
 */
export function mayHaveArpTable(desired: Desired | null, state: StateFile): boolean {
  return !!desired?.nftArp || !!state.applied?.nftArpDesired || state.journal !== null;
}

/** Computes the plan against the live kernel without changing anything. */
export async function planAgainstKernel(
  runner: Runner,
  desired: Desired,
  priorities: IdRange,
  state: StateFile,
  prefetched?: Promise<LiveObjects>,
  alwaysArp = false,
  known: Record<string, string> = {},
): Promise<{ plan: Plan; live: LiveState }> {
  const keys = sysctlKeys(desired, state);
  const live = await readLive(runner, keys.filter((k) => known[k] === undefined), prefetched, alwaysArp || mayHaveArpTable(desired, state), false);
  for (const k of keys) if (known[k] !== undefined && live.sysctls[k] === undefined) live.sysctls[k] = known[k];
  const plan = makePlan({ desired, live, applied: state.applied, sysctlOriginals: state.sysctlOriginals, priorities, previousLinks: state.applied?.desired.links ?? [], ownedExtras: state.ownedExtras ?? [] });
  return { plan, live };
}

/** Makes the kernel match `desired`, or leaves it as it was. */
export async function applyDesired(req: ApplyRequest): Promise<ApplyOutcome> {
  const { runner, desired, state, save } = req;
  const interrupted = () => {
    if (req.abort?.aborted) throw new InterruptedError(String(req.abort.reason ?? "a signal"));
  };
  for (const feature of desired.requires) {
    const missing = await probeFeature(runner, feature);
    if (missing !== null) throw new RefusedError(`this kernel has no ${feature.toUpperCase()} support (ip link add type ${feature}: ${missing}); the vrf strategy cannot be applied here`);
  }
  const { plan, live } = await planAgainstKernel(runner, desired, req.priorities, state, req.prefetched, !!req.destroying, req.knownSysctls);
  // allowed, they are applied around: the plan already leaves out the changes they stand on (plan/conflicts.ts)
  if (plan.conflicts.length > 0 && !req.allowConflicts) throw new ConflictError(plan.conflicts);
  if (isEmptyPlan(plan)) {
    const after = { ...state, journal: null };
    if (state.journal) save(after);
    return { plan, changed: false, state: after };
  }

  const touched = plan.sysctls.map((s) => s.key);
  const nftBefore = await beforeListing(runner, "inet", live.nft, state.applied?.desired.nft, state.applied?.nftLive ?? null);
  const nftArpBefore = await beforeListing(runner, "arp", live.nftArp ?? null, state.applied?.desired.nftArp, state.applied?.nftArpLive ?? null);
  const nftNetdevBefore = await beforeListing(runner, "netdev", live.nftNetdev ?? null, state.applied?.desired.nftNetdev, state.applied?.nftNetdevLive ?? null);
  const snapshot: Snapshot = {
    rules: live.rules.filter((r) => r.protocol === SYMROUTE_PROTO).map((r) => r.value),
    routes: live.routes.filter((r) => r.protocol === SYMROUTE_PROTO).map((r) => r.value),
    nft: nftBefore.listing,
    sysctls: Object.fromEntries(touched.filter((k) => live.sysctls[k] !== undefined).map((k) => [k, live.sysctls[k]])),
    createdLinks: plan.links.add.map((l) => l.ifname),
    applied: state.applied ? { nftDesired: state.applied.nftDesired, nftLive: state.applied.nftLive, nftArpDesired: state.applied.nftArpDesired ?? null, nftArpLive: state.applied.nftArpLive ?? null, nftNetdevDesired: state.applied.nftNetdevDesired ?? null, nftNetdevLive: state.applied.nftNetdevLive ?? null } : null,
    nftArp: nftArpBefore.listing,
    nftNetdev: nftNetdevBefore.listing,
    ...(nftBefore.terse || nftArpBefore.terse || nftNetdevBefore.terse ? { nftElementsApplied: true } : {}),
    nftTouched: plan.nft.action !== "none",
    nftArpTouched: plan.nftArp.action !== "none",
    nftNetdevTouched: plan.nftNetdev.action !== "none",
    addedExtras: plan.extras.add,
    removedExtras: plan.extras.remove,
  };
  const originals = { ...state.sysctlOriginals };
  for (const s of plan.sysctls) if (!s.restore && originals[s.key] === undefined && s.from !== undefined) originals[s.key] = s.from;
  if (req.abort?.aborted) return { plan, changed: false, state, rolledBack: { error: new InterruptedError(String(req.abort.reason)).message, restored: true, kind: "refused" }, snapshot };
  save({ ...state, sysctlOriginals: originals, journal: { phase: "applying", startedAt: new Date().toISOString(), pid: process.pid, snapshot } });

  try {
    await executePlan(runner, plan, {
      beforeStep: async (step) => {
        interrupted();
        await req.hooks?.beforeStep?.(step);
      },
    });
    interrupted();
    const finalOriginals = { ...originals };
    for (const s of plan.sysctls) if (s.restore) delete finalOriginals[s.key];
    const wanted = new Set((desired.extras ?? []).map(extraKey));
    const ownedExtras = [...(state.ownedExtras ?? []).filter((e) => wanted.has(extraKey(e))), ...plan.extras.add];
    const { nftLive, nftArpLive, nftNetdevLive } = await verify(runner, desired, req.priorities, finalOriginals, ownedExtras, live.nftArp != null);
    // the last moment a signal can still undo the change: after the state is written it is the applied one
    interrupted();
    const after: StateFile = {
        ...state,
        ownedExtras,
        applied: req.destroying
          ? null
          : { desired, nftDesired: nftDesiredText(desired.nft), nftLive, nftArpDesired: nftDesiredText(desired.nftArp ?? null), nftArpLive, nftNetdevDesired: nftDesiredText(desired.nftNetdev ?? null), nftNetdevLive, at: new Date().toISOString(), priorities: req.priorities, ...(req.file ? { file: req.file } : {}) },
        sysctlOriginals: finalOriginals,
        journal: null,
      };
    save(after);
    // instances whose route is new here: tell the network at once (best effort, after the change holds)
    const fresh = (desired.announce ?? []).filter((a) => plan.routes.add.some((r) => `${r.table} ${r.dst} ${r.dev}` === a.route));
    await announce(runner, fresh).catch(() => []);
    return { plan, changed: true, snapshot, state: after };
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    let restored = false;
    const after = { ...state, journal: null };
    try {
      restored = await rollback(runner, snapshot, req.priorities, state.applied?.desired);
    } finally {
      save(after);
    }
    // a rollback that did not put everything back is no race: what is left needs a look, not a quick retry
    return { plan, changed: false, rolledBack: { error, restored, kind: restored ? kindOf(e) : "fatal" }, snapshot, state: after };
  }
}

/** Reads back and re-plans; anything left to do means the kernel did not take the change. */
async function verify(runner: Runner, desired: Desired, priorities: IdRange, originals: Record<string, string>, ownedExtras: Extra[], hadArp: boolean): Promise<{ nftLive: string | null; nftArpLive: string | null; nftNetdevLive: string | null }> {
  const live = await readLive(runner, [...desired.sysctls.map((s) => s.key), ...Object.keys(originals)], undefined, !!desired.nftArp || hadArp, false);
  const nftLive = listingFingerprint(live.nft);
  const nftArpLive = listingFingerprint(live.nftArp ?? null);
  const nftNetdevLive = listingFingerprint(live.nftNetdev ?? null);
  if (desired.nft && !live.nft) throw new VerifyError("nft table inet symroute missing after apply");
  if (desired.nftArp && !live.nftArp) throw new VerifyError("nft table arp symroute missing after apply");
  if (desired.nftNetdev && !live.nftNetdev) throw new VerifyError("nft table netdev symroute missing after apply");
  const applied = { nftDesired: nftDesiredText(desired.nft), nftLive, nftArpDesired: nftDesiredText(desired.nftArp ?? null), nftArpLive, nftNetdevDesired: nftDesiredText(desired.nftNetdev ?? null), nftNetdevLive };
  const again = makePlan({ desired, live, applied, sysctlOriginals: originals, priorities, ownedExtras });
  if (!isEmptyPlan(again)) throw new VerifyError(`kernel does not match after apply; still to do:\n${formatPlan(again)}`);
  return { nftLive, nftArpLive, nftNetdevLive };
}

/**
 * The table before the change, for the snapshot. Plan reads tables tersely (no
 * Maglev map elements); while the kernel still has the structure symroute
 * applied, the applied table supplies the elements at rollback, and the terse
 * listing is enough. Otherwise only a full listing tells what to put back.
 */
async function beforeListing(runner: Runner, family: "inet" | "arp" | "netdev", listing: NftObject[] | null, applied: NftTable | null | undefined, recorded: string | null): Promise<{ listing: NftObject[] | null; terse: boolean }> {
  if (!listing) return { listing: null, terse: false };
  if (applied && !listingChanged(recorded, listing) && withAppliedElements(listing, applied)) return { listing, terse: true };
  return { listing: await readNftTable(runner, family, NFT_TABLE), terse: false };
}
