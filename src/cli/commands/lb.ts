/**
 * `symroute lb show NAME` and `symroute lb flows`: the balancers as applied,
 * with their Maglev tables summarised and the kernel's match counters.
 */
import { Option, type Command } from "commander";
import { CliError, EXIT, printJson, runnerFor } from "../common.js";
import { readStateOrEmpty } from "../common.js";
import { balancerViews, type BalancerView } from "../../engine/index.js";
import { callDaemon } from "../../daemon/client.js";

/** The balancers' views: from a running daemon when one answers, else from the state and the kernel. */
async function views(netns?: string): Promise<BalancerView[]> {
  runnerFor(netns);
  const answer = await callDaemon("GET", "/v1/balancers", netns);
  if (answer?.status === 200) return answer.body.balancers as BalancerView[];
  return balancerViews({ netns, balancers: readStateOrEmpty(netns).applied?.desired.balancers ?? [] });
}

/** Asks the namespace's daemon; no daemon is an error: registrations live in `symroute run`. */
async function ask(method: "GET" | "POST" | "DELETE", path: string, netns: string | undefined, body?: unknown): Promise<Record<string, unknown>> {
  const answer = await callDaemon(method, path, netns, 60_000, body);
  if (!answer) throw new CliError(`lb target: no symroute daemon answers${netns ? ` for netns ${netns}` : ""}; targets are registered with a running 'symroute run'`);
  if (answer.status >= 300) {
    const errors = (answer.body.errors as string[] | undefined) ?? [String(answer.body.error ?? `HTTP ${answer.status}`)];
    throw new CliError(`lb target: ${errors.join("\n")}`, answer.status === 422 ? EXIT.rolledBack : EXIT.invalid);
  }
  return answer.body;
}

/** The target a command line describes, in the config's own field names. */
function targetFromOptions(name: string, o: TargetOptions): Record<string, unknown> {
  if (o.checkCommand) throw new CliError("--check-command: a registered target may carry tcp and http checks only (--check-tcp, --check-http); a command check belongs in the config file, which root wrote");
  const check = o.checkTcp ? { tcp: Number(o.checkTcp) } : o.checkHttp ? httpCheck(o.checkHttp) : undefined;
  return {
    name,
    ...(o.via ? { via: o.via } : {}),
    ...(o.via6 ? { via6: o.via6 } : {}),
    interface: o.interface,
    ...(check ? { check: { ...check, ...(o.checkInterval ? { interval: o.checkInterval } : {}) } } : {}),
  };
}

/** "8080" or "8080/healthz" or "8080/healthz=204" as an HTTP check. */
function httpCheck(spec: string): Record<string, unknown> {
  const m = /^([0-9]+)(\/[^=]*)?(?:=([0-9]{3}))?$/.exec(spec);
  if (!m) throw new CliError(`--check-http: expected PORT[/PATH][=STATUS] such as 8080/healthz=200, got ${JSON.stringify(spec)}`);
  return { http: { port: Number(m[1]), ...(m[2] ? { path: m[2] } : {}), ...(m[3] ? { status: Number(m[3]) } : {}) } };
}

interface TargetOptions {
  via?: string;
  via6?: string;
  interface: string;
  checkTcp?: string;
  checkHttp?: string;
  checkCommand?: string[];
  checkInterval?: string;
  lease?: string;
  netns?: string;
  json?: boolean;
}

function registerTargetCommands(lb: Command): void {
  const target = lb.command("target").description("targets at run time, through symroute run: register, renew, drain, remove");
  const path = (balancer: string, name?: string, action?: string) => `/v1/balancers/${encodeURIComponent(balancer)}/targets${name ? `/${encodeURIComponent(name)}` : ""}${action ? `/${action}` : ""}`;
  const done = (json: boolean | undefined, body: Record<string, unknown>, line: string) => (json ? printJson(body) : process.stdout.write(line + "\n"));
  target
    .command("add")
    .description("register a target (again: renew its lease); the file's own targets cannot be registered")
    .argument("<balancer>")
    .argument("<name>")
    .option("--via <address>", "IPv4 next hop of the target")
    .option("--via6 <address>", "IPv6 next hop of the target")
    .requiredOption("--interface <name>", "the conduit the target is reached by")
    .option("--check-tcp <port>", "health check: TCP connect to this port")
    .option("--check-http <spec>", "health check: HTTP GET, PORT[/PATH][=STATUS]")
    // kept only to say why not: a registration is data, and a command check would run as root on the frontend
    .addOption(new Option("--check-command <argv...>").hideHelp())
    .option("--check-interval <duration>", "time between checks (default 250ms)")
    .option("--lease <duration>", "renew within this long or be removed (at most the balancer's registration.lease)")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .action(async (balancer: string, name: string, o: TargetOptions) => {
      const body = await ask("POST", path(balancer), o.netns, { ...targetFromOptions(name, o), ...(o.lease ? { lease: o.lease } : {}) });
      const t = body.target as { expiresAt?: string | null };
      done(o.json, body, `${balancer}/${name}: registered${t.expiresAt ? `, lease until ${t.expiresAt}` : ""}${body.reconcile ? "" : " (renewed, nothing changed)"}`);
    });
  target
    .command("renew")
    .description("renew a registered target's lease")
    .argument("<balancer>")
    .argument("<name>")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .action(async (balancer: string, name: string, o: { netns?: string; json?: boolean }) => {
      const body = await ask("POST", path(balancer, name, "renew"), o.netns);
      done(o.json, body, `${balancer}/${name}: lease until ${(body.target as { expiresAt?: string }).expiresAt ?? "(no lease)"}`);
    });
  target
    .command("remove")
    .description("remove a registered target now (its flows move; drain it first to let them end)")
    .argument("<balancer>")
    .argument("<name>")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .action(async (balancer: string, name: string, o: { netns?: string; json?: boolean }) => {
      const body = await ask("DELETE", path(balancer, name), o.netns);
      done(o.json, body, `${balancer}/${name}: removed`);
    });
  target
    .command("drain")
    .description("take no new flows; with flow memory keep the remembered ones until they end or the timeout, then leave")
    .argument("<balancer>")
    .argument("<name>")
    .option("--timeout <duration>", "the longest the drain waits for the flows (default: the balancer's drainTimeout)")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .action(async (balancer: string, name: string, o: { timeout?: string; netns?: string; json?: boolean }) => {
      const body = await ask("POST", path(balancer, name, "drain"), o.netns, o.timeout ? { timeout: o.timeout } : {});
      done(o.json, body, `${balancer}/${name}: draining until ${(body.target as { drainDeadline?: string }).drainDeadline}`);
    });
  target
    .command("undrain")
    .description("end a drain: the target takes new flows again")
    .argument("<balancer>")
    .argument("<name>")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .action(async (balancer: string, name: string, o: { netns?: string; json?: boolean }) => {
      const body = await ask("POST", path(balancer, name, "undrain"), o.netns);
      done(o.json, body, `${balancer}/${name}: serving`);
    });
  target
    .command("list")
    .description("a balancer's targets: from the file or registered, serving, draining or drained, leases")
    .argument("<balancer>")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .action(async (balancer: string, o: { netns?: string; json?: boolean }) => {
      const body = await ask("GET", path(balancer), o.netns);
      const rows = body.targets as { name: string; source: string; state: string; expiresAt?: string | null; drainDeadline?: string }[];
      if (o.json) return printJson(body);
      const lines = rows.map((t) => `  ${t.name.padEnd(20)} ${t.source.padEnd(11)} ${t.state.padEnd(9)} ${t.expiresAt ? `lease until ${t.expiresAt}` : ""}${t.drainDeadline ? `drain until ${t.drainDeadline}` : ""}`);
      process.stdout.write((lines.length ? lines : [`  ${balancer} has no targets`]).join("\n") + "\n");
    });
}

export function registerLbCommand(program: Command): void {
  const lb = program.command("lb").description("load balancers as applied: targets, Maglev tables, flow counters");
  lb.command("show")
    .description("targets, marks, tables, Maglev table size and each target's share")
    .argument("<name>")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .action(async (name: string, opts: { netns?: string; json?: boolean }) => {
      const all = await views(opts.netns);
      const b = all.find((x) => x.name === name);
      if (!b) throw new CliError(`lb show: no applied load balancer named '${name}'${all.length ? ` (applied: ${all.map((x) => x.name).join(", ")})` : ""}`);
      const targets = b.targets;
      if (opts.json) return printJson({ name: b.name, vips: b.vips, size: b.size, seed: b.seed, assignment: b.assignment, ...(b.flowMemory ? { flowMemory: b.flowMemory } : {}), flows: b.flows, targets });
      const memory = b.flowMemory ? `; flow memory ${b.flowMemory.timeout}s, at most ${b.flowMemory.size} flows per target and family` : "; stateless";
      const lines = [`${b.name}: VIPs ${b.vips.join(", ")}; Maglev size ${b.size}, seed ${b.seed}, assignment ${b.assignment}${memory}`];
      const remembered = (t: (typeof targets)[number]) => (t.fastPackets !== undefined ? ` ${String(t.fastPackets).padStart(9)}` : "") + (b.flowMemory ? ` ${String(t.remembered ?? 0).padStart(10)}` : "");
      const fastColumn = targets.some((t) => t.fastPackets !== undefined) ? ` ${"fast".padStart(9)}` : "";
      lines.push(`  ${"target".padEnd(16)} ${"state".padEnd(9)} ${"mark".padEnd(9)} ${"table".padEnd(6)} ${"via".padEnd(28)} ${"entries".padStart(8)} ${"share".padStart(7)} ${"packets".padStart(9)}${fastColumn}${b.flowMemory ? ` ${"remembered".padStart(10)}` : ""}${targets.some((t) => t.source) ? "  source" : ""}`);
      for (const t of targets)
        lines.push(`  ${t.name.padEnd(16)} ${(t.state ?? "up").padEnd(9)} ${t.mark.padEnd(9)} ${String(t.table).padEnd(6)} ${[t.via, t.via6].filter(Boolean).join(" ").padEnd(28)} ${String(t.entries).padStart(8)} ${(t.share * 100).toFixed(1).padStart(6)}% ${String(t.packets).padStart(9)}${remembered(t)}${t.source ? `  ${t.source}` : ""}`);
      process.stdout.write(lines.join("\n") + "\n");
    });
  registerTargetCommands(lb);
  lb.command("flows")
    .description("flows of every applied balancer with the kernel's match counters")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .action(async (opts: { netns?: string; json?: boolean }) => {
      const all = await views(opts.netns);
      // the fast path counts per target, not per flow: one row for all its flows
      const fastRow = (b: (typeof all)[number]) => (b.targets.some((t) => t.fastPackets !== undefined) ? [{ balancer: b.name, flow: "(fast path, all port flows)", matches: b.targets.reduce((n, t) => n + (t.fastPackets ?? 0), 0) }] : []);
      const rows = all.flatMap((b) => [...Object.entries(b.flowMatches).map(([flow, matches]) => ({ balancer: b.name, flow, matches })), ...fastRow(b)]);
      if (opts.json) return printJson(rows);
      const lines = rows.map((r) => `  ${r.balancer.padEnd(16)} ${r.flow.padEnd(30)} ${String(r.matches).padStart(9)} packets`);
      process.stdout.write((lines.length ? lines : ["no load balancers applied"]).join("\n") + "\n");
    });
}
