/**
 * A daemon with fake surroundings (issue 18, item 5): a fake clock, an engine
 * whose reconciles the test ends by hand (or at once), health checks the test
 * flips, a monitor the test feeds lines, a speaker that counts. Nothing here
 * touches the kernel; everything the daemon did is recorded for the test.
 */
import { Daemon } from "../../src/daemon/daemon.js";
import type { DaemonDeps, HealthSet } from "../../src/daemon/deps.js";
import type { Checked, CheckedView } from "../../src/daemon/probedHealth.js";
import type { Transition } from "../../src/daemon/health.js";
import type { Inputs } from "../../src/compile/inputs.js";
import type { ReconcileRequest, ReconcileResult } from "../../src/engine/index.js";
import type { RegistrationsFile } from "../../src/daemon/registrationsFile.js";
import type { BalancerInfo } from "../../src/model/balancer.js";
import type { ResolvedConfig } from "../../src/config/resolved.js";
import { FakeClock } from "./fakeClock.js";

/** One reconcile the daemon asked the engine for. */
export interface FakeReconcile {
  inputs: Inputs;
  /** ends it well (`changed`: it repaired something) */
  ok(changed?: boolean): void;
  /** ends it with an error of this kind */
  fail(kind: "retryable" | "conflict" | "refused" | "fatal", message?: string): void;
  done: boolean;
}

/** Checks the test flips: `set(key, "down")` calls the daemon's transition handler like a prober would. */
export class FakeHealth implements HealthSet {
  private readonly isDown = new Set<string>();
  readonly syncs: Checked[][] = [];
  stopped = false;
  /** syncs that came after stop: processes a real set would have started with nothing to stop them */
  syncsAfterStop = 0;
  constructor(private readonly onTransition: () => (key: string, t: Transition) => void) {}
  down(): Set<string> {
    return new Set(this.isDown);
  }
  views(): CheckedView[] {
    return [];
  }
  async sync(wanted: Checked[]): Promise<void> {
    if (this.stopped) this.syncsAfterStop += 1;
    this.syncs.push(wanted);
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }
  set(key: string, to: "up" | "down"): void {
    if (to === "down") this.isDown.add(key);
    else this.isDown.delete(key);
    this.onTransition()(key, { from: to === "down" ? "up" : "down", to, reason: "test", at: 0 } as Transition);
  }
}

/** The fake world and the daemon in it. */
export function fakeDaemon(
  resolved: ResolvedConfig,
  opts: { auto?: boolean; registrations?: RegistrationsFile; flows?: () => Promise<Map<string, number>>; balancers?: BalancerInfo[]; intervalMs?: number } = {},
) {
  const clock = new FakeClock();
  const reconciles: FakeReconcile[] = [];
  const saved: RegistrationsFile[] = [];
  const monitorLines: ((source: "ip" | "nft", line: string) => void)[] = [];
  const deleted: number[] = [];
  let onUplink: (key: string, t: Transition) => void = () => {};
  let onTarget: (key: string, t: Transition) => void = () => {};
  const uplinks = new FakeHealth(() => onUplink);
  const targets = new FakeHealth(() => onTarget);
  const children = { monitorStopped: false, speakerStopped: false };
  const balancers = opts.balancers ?? [];
  const deps: DaemonDeps = {
    clock,
    reconcile: (req: ReconcileRequest) =>
      new Promise<ReconcileResult>((resolve, reject) => {
        const r: FakeReconcile = {
          inputs: req.inputs!,
          done: false,
          ok: (changed = false) => {
            r.done = true;
            resolve(okResult(changed, balancers));
          },
          fail: (kind, message = `failed (${kind})`) => {
            r.done = true;
            reject(Object.assign(new Error(message), { kind }));
          },
        };
        reconciles.push(r);
        if (opts.auto) r.ok();
      }),
    plan: async () => ({ plan: okResult(false, []).outcome.plan }) as never,
    status: async () => ({ driftPlan: null }) as never,
    destroy: async () => null,
    balancerViews: async () => [],
    rememberedFlows: opts.flows ?? (async () => new Map()),
    // the frontend of the load-balancer lab (src/lab/loadBalancer.ts)
    interfaceAddresses: async () => ({ "conduit-a": { addresses: ["172.16.0.4/24", "fd00::4/64"] }, "conduit-b": { addresses: ["172.16.1.4/24", "fd00:0:0:1::4/64"] } }),
    deleteConnections: async (_netns, mark) => {
      deleted.push(mark);
      return 1;
    },
    loadRegistrations: () => structuredClone(opts.registrations ?? { version: 1, registrations: [], drains: [], drained: [] }),
    saveRegistrations: (file) => void saved.push(structuredClone(file)),
    monitor: (_netns, onLine) => {
      monitorLines.push(onLine);
      return { started: Promise.resolve(), stop: async () => void (children.monitorStopped = true) };
    },
    health: (_netns, u, t) => {
      onUplink = u;
      onTarget = t;
      return { uplinks, targets, stop: async () => Promise.all([uplinks.stop(), targets.stop()]).then(() => undefined) };
    },
    uplinkChecks: async () => [],
    targetChecks: async () => [],
    speaker: async () => null,
  };
  const daemon = new Daemon({ initial: resolved, load: () => resolved, reconcileIntervalMs: opts.intervalMs ?? 3_600_000, debounceMs: 20, deps });
  const records: { reason: string; error: string | null }[] = [];
  daemon.on("reconcile", (r: { reason: string; error: string | null }) => records.push(r));
  return {
    daemon,
    clock,
    reconciles,
    records,
    saved,
    uplinks,
    targets,
    children,
    deleted,
    /** a kernel event line, as `ip monitor` prints it */
    line: (text: string, source: "ip" | "nft" = "ip") => monitorLines.at(-1)!(source, text),
    /** the reconcile under way, or the last */
    current: () => reconciles.at(-1)!,
  };
}

/** What the engine returns for a reconcile that went well. */
function okResult(changed: boolean, balancers: BalancerInfo[]): ReconcileResult {
  const plan = {
    rules: { add: changed ? [{ priority: 1000, table: 1000 }] : [], remove: [] },
    routes: { add: [], remove: [], change: [] },
    nft: { action: "none", table: null },
    nftArp: { action: "none", table: null },
    nftNetdev: { action: "none", table: null },
    extras: { add: [], remove: [] },
    links: { add: [], remove: [] },
    sysctls: [],
    conflicts: [],
    held: { rules: [], routes: [] },
  };
  const desired = { rules: [], routes: [], sysctls: [], nft: null, links: [], requires: [], balancers, marks: { mask: 0xff0000, uplinks: [{ name: "isp1", mark: 0x10000 }, { name: "isp2", mark: 0x20000 }] } };
  return {
    outcome: { plan, changed, state: { version: 1, applied: { desired, at: "", nftDesired: null, nftLive: null }, sysctlOriginals: {}, journal: null, pending: null } },
    warnings: [],
    confirmedPending: null,
    confirmBy: null,
    lockWaitedMs: 0,
  } as unknown as ReconcileResult;
}
