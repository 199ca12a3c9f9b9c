/**
 * Everything the daemon does to the world, behind one interface (issue 18,
 * items 3 and 5): the engine's operations (its one door to the kernel), the
 * registrations file, the kernel's event monitor, the health checks' probes,
 * the BGP speaker and the clock. `symroute run` gets the real ones; the
 * daemon's unit tests hand in fakes and a fake clock, so its races are
 * tested without namespaces and without sleeping.
 */
import type { ResolvedConfig } from "../config/resolved.js";
import {
  balancerViews,
  deleteConnectionsByMark,
  destroy,
  interfaceAddresses,
  planConfig,
  reconcile,
  rememberedFlowsIn,
  status,
  writeRegistrations,
  type BalancerView,
  type PlanResult,
  type ReconcileRequest,
  type ReconcileResult,
  type StatusReport,
} from "../engine/index.js";
import type { Inputs } from "../compile/inputs.js";
import type { BalancerInfo } from "../model/balancer.js";
import { startKernelMonitor, type KernelMonitor, type MonitorSource } from "../engine/index.js";
import { CheckProber } from "../engine/index.js";
import { ProbedHealth, type Checked, type CheckedView } from "./probedHealth.js";
import type { Transition } from "./health.js";
import { uplinkChecks } from "./uplinkHealth.js";
import { targetChecks } from "./targetHealth.js";
import { BgpAnnouncer, type AnnouncerInputs, type BgpStatus } from "./bgp.js";
import { loadRegistrations, type RegistrationsFile } from "./registrationsFile.js";
import { systemClock, type Clock } from "./scheduler.js";
import type { LinkAddresses } from "./registrationPlace.js";

/** A set of checks (the uplinks', or the targets'): which are down, what they saw, brought in step with the config. */
export interface HealthSet {
  down(): Set<string>;
  views(): CheckedView[];
  sync(wanted: Checked[]): Promise<void>;
  stop(): Promise<void>;
}

/** The BGP speaker as the daemon drives it. */
export interface Speaker {
  nudge(): void;
  stop(): Promise<void>;
  status(): Promise<BgpStatus>;
}

/** The watcher of kernel events. */
export type MonitorFactory = (
  netns: string | undefined,
  onLine: (source: MonitorSource, line: string) => void,
  onRestart: (source: MonitorSource, why: string) => void,
  onLost: (source: MonitorSource, why: string) => void,
) => KernelMonitor;

/** What the daemon is made of. */
export interface DaemonDeps {
  clock: Clock;
  reconcile(req: ReconcileRequest): Promise<ReconcileResult>;
  plan(load: () => ResolvedConfig, options: { netns?: string; inputs?: Inputs }): Promise<PlanResult>;
  status(options: { netns?: string }): Promise<StatusReport & { driftPlan: unknown }>;
  destroy(options: { netns?: string }): Promise<unknown>;
  balancerViews(options: { netns?: string }): Promise<BalancerView[]>;
  /** throws when the kernel cannot be read: a drain never ends on a failed read */
  rememberedFlows(netns: string | undefined, balancers: BalancerInfo[]): Promise<Map<string, number>>;
  interfaceAddresses(netns: string | undefined): Promise<LinkAddresses>;
  deleteConnections(netns: string | undefined, mark: number, mask: number): Promise<number>;
  loadRegistrations(netns: string | undefined): RegistrationsFile;
  saveRegistrations(file: RegistrationsFile, netns: string | undefined): void;
  monitor: MonitorFactory;
  /** the uplinks' and the targets' checks, sharing one prober; `stop` ends both and the prober */
  health(netns: string | undefined, onUplink: (key: string, t: Transition) => void, onTarget: (key: string, t: Transition) => void): { uplinks: HealthSet; targets: HealthSet; stop(): Promise<void> };
  uplinkChecks(resolved: ResolvedConfig, netns: string | undefined): Promise<Checked[]>;
  targetChecks(resolved: ResolvedConfig, netns: string | undefined): Promise<Checked[]>;
  speaker(inputs: AnnouncerInputs): Promise<Speaker | null>;
}

/** The real world: the engine, the kernel's monitors and probers, BIRD, the system clock. */
export function realDeps(): DaemonDeps {
  return {
    clock: systemClock,
    reconcile,
    plan: planConfig,
    status,
    destroy,
    balancerViews,
    rememberedFlows: (netns, balancers) => rememberedFlowsIn({ netns }, balancers),
    interfaceAddresses: (netns) => interfaceAddresses({ netns }),
    deleteConnections: (netns, mark, mask) => deleteConnectionsByMark({ netns }, mark, mask),
    loadRegistrations,
    saveRegistrations: writeRegistrations,
    monitor: startKernelMonitor,
    health: (netns, onUplink, onTarget) => {
      // one process for every TCP, HTTP and command check of uplinks and targets (issue 17: a node process per target cost 51 MB each)
      const prober = new CheckProber(netns);
      const uplinks = new ProbedHealth(netns, onUplink, prober);
      const targets = new ProbedHealth(netns, onTarget, prober);
      return {
        uplinks,
        targets,
        stop: async () => {
          await uplinks.stop();
          await targets.stop();
          await prober.stop();
        },
      };
    },
    uplinkChecks,
    targetChecks,
    speaker: (inputs) => BgpAnnouncer.start(inputs),
  };
}

/** How the daemon runs. */
export interface DaemonOptions {
  netns?: string;
  /** reads and checks the config file (again on reload) */
  load: () => ResolvedConfig;
  /** the config as already loaded at start (else `load` is called) */
  initial?: ResolvedConfig;
  reconcileIntervalMs: number;
  debounceMs: number;
  /** the longest a reconcile waits behind a stream of events */
  maxDelayMs?: number;
  /** the world the daemon acts on; tests hand in fakes */
  deps?: DaemonDeps;
}
