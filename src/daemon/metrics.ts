/**
 * Prometheus metrics of the daemon, in the text exposition format on the
 * config's `daemon.metrics` address (loopback by default). Names follow
 * Prometheus' guide: `symroute_` prefix, base units (seconds), `_total` for
 * counters. Balancer packets come from the nft counters at scrape time.
 */
import { createServer, type Server } from "node:http";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Daemon, ReconcileRecord, RepairKind } from "./daemon.js";
import type { EventKind } from "./events.js";
import { AUTH_FAILURE_EVENT, AUTH_FAILURES, type AuthFailure } from "./auth.js";
import { parseTargetKey } from "../model/names.js";

/** The registry with every symroute metric, fed by the daemon's events. */
export function daemonMetrics(daemon: Daemon): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register });
  // prom-client names these gauges with a counter's `_total` suffix, which promtool rejects; the same counts
  // are in nodejs_active_handles and nodejs_active_resources
  for (const bad of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) register.removeSingleMetric(bad);
  const reconciles = new Counter({ name: "symroute_reconciles_total", help: "Reconciles run, by result.", labelNames: ["result"], registers: [register] });
  const duration = new Histogram({ name: "symroute_reconcile_duration_seconds", help: "Time one reconcile took (read, plan, apply, verify).", buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [register] });
  const latency = new Histogram({ name: "symroute_repair_latency_seconds", help: "Time from the first kernel event of a burst to the repaired kernel.", buckets: [0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5], registers: [register] });
  const repairs = new Counter({ name: "symroute_repairs_total", help: "Objects put back or changed by reconciles, by kind.", labelNames: ["kind"], registers: [register] });
  const events = new Counter({ name: "symroute_kernel_events_total", help: "Kernel events that may concern symroute, by kind.", labelNames: ["kind"], registers: [register] });
  for (const k of ["ok", "failed"]) reconciles.inc({ result: k }, 0);
  for (const k of ["rule", "route", "nft", "sysctl", "address", "link"] satisfies RepairKind[]) repairs.inc({ kind: k }, 0);
  for (const k of ["rule", "route", "link", "address", "sysctl", "nft"] satisfies EventKind[]) events.inc({ kind: k }, 0);
  let lastRepairs = daemon.snapshot().repairs;
  daemon.on("reconcile", (r: ReconcileRecord) => {
    reconciles.inc({ result: r.error ? "failed" : "ok" });
    duration.observe(r.durationMs / 1000);
    if (r.changed && r.latencyMs !== null) latency.observe(r.latencyMs / 1000);
    const now = daemon.snapshot().repairs;
    for (const k of Object.keys(now) as RepairKind[]) if (now[k] > lastRepairs[k]) repairs.inc({ kind: k }, now[k] - lastRepairs[k]);
    lastRepairs = now;
  });
  daemon.on("event", (kind: EventKind) => events.inc({ kind }));
  new Gauge({
    name: "symroute_conflicts",
    help: "Foreign objects standing in symroute's way (reported, never overwritten).",
    registers: [register],
    collect() {
      this.set(daemon.snapshot().conflicts.length);
    },
  });
  new Gauge({
    name: "symroute_last_reconcile_timestamp_seconds",
    help: "When the last reconcile ended (Unix time).",
    registers: [register],
    collect() {
      const r = daemon.snapshot().lastReconcile;
      this.set(r ? Date.parse(r.at) / 1000 : 0);
    },
  });
  new Gauge({
    name: "symroute_owned_objects",
    help: "Objects symroute owns in the kernel now, by kind.",
    labelNames: ["kind"],
    registers: [register],
    async collect() {
      const s = await daemon.engineStatus();
      this.set({ kind: "rule" }, s.owned.rules);
      this.set({ kind: "route" }, s.owned.routes);
      this.set({ kind: "nft_table" }, s.owned.nftTable ? 1 : 0);
    },
  });
  // one read of the balancers (counters, remembered flows, states) per scrape, shared by the metrics that need it
  let cached: { at: number; views: ReturnType<Daemon["balancers"]> } | null = null;
  const views = () => {
    if (!cached || performance.now() - cached.at > 500) cached = { at: performance.now(), views: daemon.balancers() };
    return cached.views;
  };
  new Counter({
    name: "symroute_target_packets_total",
    help: "Packets a load balancer sent to each target (nft counters).",
    labelNames: ["balancer", "target"],
    registers: [register],
    async collect() {
      this.reset();
      for (const b of await views()) for (const t of b.targets) this.inc({ balancer: b.name, target: t.name }, t.packets);
    },
  });
  new Counter({
    name: "symroute_target_fast_packets_total",
    help: "Packets a load balancer's fast path (fastPath.ingress) forwarded to each target (nft counters of the netdev table).",
    labelNames: ["balancer", "target"],
    registers: [register],
    async collect() {
      this.reset();
      for (const b of await views()) for (const t of b.targets) if (t.fastPackets !== undefined) this.inc({ balancer: b.name, target: t.name }, t.fastPackets);
    },
  });
  new Gauge({
    name: "symroute_target_remembered_flows",
    help: "Flows a balancer's flow memory holds for each target now (balancers with flowMemory).",
    labelNames: ["balancer", "target"],
    registers: [register],
    async collect() {
      this.reset();
      for (const b of await views()) for (const t of b.targets) if (t.remembered !== undefined) this.set({ balancer: b.name, target: t.name }, t.remembered);
    },
  });
  new Gauge({
    name: "symroute_target_state",
    help: "1 for each target's state now: up (in the Maglev table), down (its check fails), draining (no new flows), drained.",
    labelNames: ["balancer", "target", "state"],
    registers: [register],
    async collect() {
      this.reset();
      for (const b of await views()) for (const t of b.targets) for (const s of ["up", "down", "draining", "drained"]) this.set({ balancer: b.name, target: t.name, state: s }, s === t.state ? 1 : 0);
    },
  });
  new Gauge({
    name: "symroute_targets_registered",
    help: "Targets registered at run time, by balancer.",
    labelNames: ["balancer"],
    registers: [register],
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const k of daemon.snapshot().targetsRegistered) counts.set(parseTargetKey(k).balancer, (counts.get(parseTargetKey(k).balancer) ?? 0) + 1);
      for (const lb of daemon.config().config.loadBalancers) if (lb.registration) this.set({ balancer: lb.name }, counts.get(lb.name) ?? 0);
    },
  });
  const leases = new Counter({ name: "symroute_target_leases_expired_total", help: "Registered targets removed because their lease ran out.", registers: [register] });
  leases.inc(0);
  daemon.on("leaseExpired", () => leases.inc());
  // failed logins to the API over TCP, by reason (never the token): a rising unknown-token is a guess or a stale client
  const authFailures = new Counter({ name: "symroute_api_auth_failures_total", help: "Requests to the API over TCP refused for their authentication, by reason.", labelNames: ["reason"], registers: [register] });
  for (const r of AUTH_FAILURES) authFailures.inc({ reason: r }, 0);
  daemon.on(AUTH_FAILURE_EVENT, (reason: AuthFailure) => authFailures.inc({ reason }));
  const transitions = new Counter({ name: "symroute_uplink_transitions_total", help: "Changes of an uplink's health state.", labelNames: ["uplink", "to"], registers: [register] });
  daemon.on("uplink", (uplink: string, t: { to: string }) => transitions.inc({ uplink, to: t.to }));
  new Gauge({
    name: "symroute_uplink_up",
    help: "1 when the uplink's health checks say up, 0 when down.",
    labelNames: ["uplink"],
    registers: [register],
    collect() {
      this.reset();
      for (const h of daemon.uplinkHealth()) this.set({ uplink: h.name }, h.state === "up" ? 1 : 0);
    },
  });
  new Gauge({
    name: "symroute_uplink_latency_seconds",
    help: "Smoothed round-trip time of the uplink's answered probes (EWMA).",
    labelNames: ["uplink"],
    registers: [register],
    collect() {
      this.reset();
      for (const h of daemon.uplinkHealth()) if (h.ewmaMs !== null) this.set({ uplink: h.name }, h.ewmaMs / 1000);
    },
  });
  new Gauge({
    name: "symroute_uplink_loss_ratio",
    help: "Missed probe rounds over the last rounds, 0 to 1.",
    labelNames: ["uplink"],
    registers: [register],
    collect() {
      this.reset();
      for (const h of daemon.uplinkHealth()) this.set({ uplink: h.name }, h.loss);
    },
  });
  new Gauge({
    name: "symroute_target_up",
    help: "1 when the load-balancer target's check passes (it is in the Maglev table), 0 when it fails.",
    labelNames: ["balancer", "target"],
    registers: [register],
    collect() {
      this.reset();
      for (const h of daemon.targetHealth()) this.set({ balancer: h.balancer, target: h.target }, h.state === "up" ? 1 : 0);
    },
  });
  new Gauge({
    name: "symroute_target_check_latency_seconds",
    help: "Smoothed time of the target's passing checks (EWMA): a connect, an HTTP answer, a command's run.",
    labelNames: ["balancer", "target"],
    registers: [register],
    collect() {
      this.reset();
      for (const h of daemon.targetHealth()) if (h.ewmaMs !== null) this.set({ balancer: h.balancer, target: h.target }, h.ewmaMs / 1000);
    },
  });
  new Counter({
    name: "symroute_target_check_failures_total",
    help: "Failed checks of each target since the daemon started.",
    labelNames: ["balancer", "target"],
    registers: [register],
    collect() {
      this.reset();
      for (const h of daemon.targetHealth()) this.inc({ balancer: h.balancer, target: h.target }, Math.max(0, h.sent - h.answered));
    },
  });
  return register;
}

/** "HOST:PORT" or "[HOST6]:PORT" (already checked by the schema) as node's listen wants them; `field` names it in the error. */
export function parseListen(listen: string, field: string): { host: string; port: number } {
  const m = /^\[?([^\]]+)\]?:([0-9]+)$/.exec(listen);
  if (!m) throw new Error(`${field}: '${listen}' is not ADDRESS:PORT`);
  return { host: m[1], port: Number(m[2]) };
}

/** Other GET pages served beside /metrics (the status page): path to its content. */
export type ExtraRoutes = Record<string, () => Promise<{ contentType: string; body: string }>>;

/** Serves /metrics on HOST:PORT, and the `extra` routes (GET / and /status.json from run). */
export async function startMetricsServer(register: Registry, listen: string, extra: ExtraRoutes = {}): Promise<Server> {
  const at = parseListen(listen, "daemon.metrics");
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    const page = Object.hasOwn(extra, path) ? extra[path] : undefined;
    if (page && (req.method === "GET" || req.method === "HEAD")) {
      page()
        .then(({ contentType, body }) => {
          res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" });
          res.end(req.method === "HEAD" ? undefined : body);
        })
        .catch((e: unknown) => {
          res.writeHead(500).end(String(e));
        });
      return;
    }
    if (path !== "/metrics") {
      res.writeHead(404).end("see /metrics\n");
      return;
    }
    register
      .metrics()
      .then((text) => {
        res.writeHead(200, { "content-type": register.contentType });
        res.end(text);
      })
      .catch((e: unknown) => {
        res.writeHead(500).end(String(e));
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(at.port, at.host, () => resolve());
  });
  return server;
}
