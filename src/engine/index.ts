/**
 * The engine: every operation on the kernel and the state as a function that
 * returns data and never prints. The CLI, the lab and the daemon call it.
 */
export { reconcile, type ReconcileRequest, type ReconcileResult } from "./reconcile.js";
export { destroy, type DestroyResult } from "./destroy.js";
export { confirm, revert, type RevertResult } from "./confirm.js";
export { planConfig, type PlanResult } from "./plan.js";
export { status, type StatusReport } from "./status.js";
export { DEFAULT_WAIT_MS, type SessionOptions } from "./session.js";
export { interruptSignal } from "./interrupts.js";
export { compileForHost, previousTables } from "./host.js";
export { balancerViews, rememberedFlows, type BalancerView, type TargetView } from "./balancers.js";
export { interfaceAddresses } from "./links.js";
export { hostSystemdVersion } from "./hostTools.js";
// the state and registrations files, as the edges may see them: read and checked here, written by the engine
export { readState, StateFileError } from "../kernel/state.js";
export { readRegistrationsText, writeRegistrations } from "../kernel/registrations.js";
export { deleteConnectionsByMark, rememberedFlowsIn } from "./connections.js";
// the long-lived children the daemon watches and probes with (each dies with the daemon)
export { startKernelMonitor, type KernelMonitor, type MonitorSource } from "../kernel/monitor.js";
export { CheckProber } from "../kernel/checkProber.js";

// The door (issue 18, item 3): what the edges (cli/, lab/, daemon/) may use of apply/ and kernel/. Operations
// that write go through the engine's own functions above; below are the errors they raise, the types they
// return, and the read-only and process adapters the edges still call by name.
export { RefusedError, ConflictError, planAgainstKernel, type ApplyOutcome } from "../apply/apply.js";
export type { ExecuteHooks } from "../apply/execute.js";
export type { LockHolder } from "../kernel/lock.js";
export { monotonicUsec, sdNotify, watchdogIntervalMs } from "../kernel/notify.js";
export { ProcessRunner, type Runner } from "../kernel/runner.js";
export { findRememberedFlow } from "../kernel/nft.js";
export { readFacts } from "../kernel/facts.js";
export { readIpState, type IpState } from "../kernel/ipState.js";
export { emptyState, ensureStateDir, readStateTolerant, stateDir, type StateFile } from "../kernel/state.js";
export { birdConfigure, birdExported, birdPaths, birdProtocols, startBird, writeBirdFile, type BirdProcess } from "../kernel/bird.js";
export { startUplinkProbes, type ProbeSources, type UplinkProbes } from "../kernel/prober.js";
export { registrationsPath } from "../kernel/registrations.js";
