/**
 * `symroute trace`: where a packet goes and why, against the live kernel
 * (with symroute's applied marks) or against a config (the kernel as it
 * would be after applying it).
 */
import { fastPathVerdict } from "../../simulate/fastPath.js";
import type { Command } from "commander";
import { CliError, compileFor, loadConfigFile, printJson, runnerFor } from "../common.js";
import { MAX_CONFIG_SIZE_HELP, MAX_CONFIG_SIZE_OPTION } from "../../config/read.js";
import { readKernelView } from "../../engine/simView.js";
import { readStateOrEmpty } from "../common.js";
import { trace, type NftModel } from "../../simulate/trace.js";
import { viewAfterApply } from "../../simulate/fromDesired.js";
import { canonicalAddress, parseAddress } from "../../net/ip.js";
import type { Packet, RouteResult } from "../../simulate/types.js";
import { EXIT } from "../common.js";
import { durationMs } from "../../config/schema.js";
import { parsePrefix } from "../../net/ip.js";
import { interruptSignal } from "../../engine/interrupts.js";
import { runLiveTrace, type LiveReport, type LiveResult } from "../../trace/liveRun.js";
import { flowText, type FlowSelector } from "../../trace/liveTrace.js";
import type { BalancerInfo } from "../../model/balancer.js";
import type { Runner } from "../../engine/index.js";
import { findRememberedFlow } from "../../engine/index.js";
import { flowSetName } from "../../compile/loadBalancers.js";
import { NFT_TABLE } from "../../compile/index.js";
import { hex } from "../../model/nftExpr.js";

const PROTOCOLS: Record<string, number> = { tcp: 6, udp: 17, sctp: 132, icmp: 1, icmpv6: 58 };

interface TraceOptions {
  maxConfigSize?: string;
  from?: string;
  to?: string;
  iif?: string;
  proto?: string;
  sport?: string;
  dport?: string;
  mark?: string;
  uid?: string;
  ttl?: string;
  fragment?: boolean;
  syn?: boolean;
  reply?: boolean;
  netns?: string;
  json?: boolean;
  live?: boolean;
  count?: string;
  duration?: string;
}

function number(name: string, text: string | undefined, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = /^0x[0-9a-f]+$/i.test(text) ? Number.parseInt(text, 16) : /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > max) throw new CliError(`--${name}: '${text}' is not a number from 0 to ${max}`);
  return n;
}

/** Builds the packet from the options, refusing what the kernel would refuse. */
export function packetFromOptions(o: TraceOptions, links: string[] | undefined): Packet {
  if (o.to === undefined) throw new CliError("error: required option '--to <address>' not specified (or --live to trace real packets)");
  const dst = parseAddress(o.to);
  if (!dst) throw new CliError(`--to: '${o.to}' is not an IPv4 or IPv6 address`);
  const src = o.from !== undefined ? parseAddress(o.from) : null;
  if (o.from !== undefined && !src) throw new CliError(`--from: '${o.from}' is not an IPv4 or IPv6 address`);
  if (src && src.family !== dst.family) throw new CliError(`--from ${o.from} and --to ${o.to} are of different address families`);
  if (o.iif !== undefined && links && !links.includes(o.iif)) throw new CliError(`--iif: no interface named '${o.iif}' (known: ${links.join(", ")})`);
  if (o.iif !== undefined && !src) throw new CliError("--iif needs --from: a packet arriving from outside has a source");
  const p: Packet = { family: dst.family, dst: canonicalAddress(o.to) };
  if (src) p.src = canonicalAddress(o.from!);
  if (o.iif) p.iif = o.iif;
  if (o.proto !== undefined) {
    const proto = PROTOCOLS[o.proto] ?? number("proto", o.proto, 255);
    if (proto === undefined) throw new CliError(`--proto: '${o.proto}' is not tcp, udp, sctp, icmp or a number`);
    p.proto = proto;
  }
  const sport = number("sport", o.sport, 65535);
  const dport = number("dport", o.dport, 65535);
  if ((sport !== undefined || dport !== undefined) && p.proto === undefined) p.proto = 6;
  if (sport !== undefined) p.sport = sport;
  if (dport !== undefined) p.dport = dport;
  const mark = number("mark", o.mark, 0xffffffff);
  if (mark !== undefined) p.mark = mark;
  const uid = number("uid", o.uid, 0xfffffffe);
  if (uid !== undefined) p.uid = uid;
  const ttl = number("ttl", o.ttl, 255);
  if (ttl !== undefined) p.ttl = ttl;
  if (o.fragment) p.fragment = true;
  if (o.syn) {
    if (p.proto !== 6) throw new CliError("--syn needs --proto tcp");
    p.syn = true;
  }
  return p;
}

function describe(r: RouteResult): string {
  if (r.error) return `${r.type} (${r.error})`;
  return [r.type, r.dev ? `dev ${r.dev}` : "", r.via ? `via ${r.via}` : "", r.src ? `src ${r.src}` : "", r.table ? `table ${r.table}` : ""].filter(Boolean).join(" ");
}

export function registerTraceCommand(program: Command): void {
  program
    .command("trace")
    .description("where a packet goes and why: symroute's marks, the rule, the table, the route, the source")
    .argument("[file]", "trace against the kernel as it would be after applying this config")
    .option("--from <address>", "source address (with --live: address or prefix)")
    .option("--to <address>", "destination address (with --live: address or prefix, optional)")
    .option("--iif <dev>", "the interface the packet arrives on (absent: sent by the host itself)")
    .option("--proto <proto>", "tcp, udp, sctp, icmp or a number")
    .option("--sport <port>")
    .option("--dport <port>")
    .option("--mark <mark>", "fwmark the packet already carries")
    .option("--uid <uid>", "socket owner of a locally sent packet")
    .option("--ttl <n>", "TTL (IPv4) or hop limit (IPv6) on arrival: 1 is too few for a load balancer's fast path")
    .option("--fragment", "the packet is a fragment: a load balancer's fast path leaves it to the routed path")
    .option("--syn", "a TCP SYN (new connection): a balancer with flow memory ignores a remembered 4-tuple")
    .option("--reply", "also trace the reply, and say whether it leaves by the interface the request came in on")
    .option("--live", "trace real packets: set nftrace on the flow --from/--to/--proto/--sport/--dport/--iif selects and print each one's path through symroute's chains and the route the kernel chose")
    .option("--count <n>", "with --live: stop after this many packets", "10")
    .option("--duration <d>", "with --live: stop after this long (250ms, 10s, 2m)", "10s")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .option(MAX_CONFIG_SIZE_OPTION, MAX_CONFIG_SIZE_HELP)
    .addHelpText(
      "after",
      `
--live adds a table inet symroute_trace (priority -350, before symroute's chains) that sets
nftrace on the selected packets, reads \`nft monitor trace\` and deletes the table at the end
(also on Ctrl-C or SIGTERM). Exit 0 when a packet was seen, 4 when none was in time.
  symroute trace --live --to 20.0.0.1 --proto tcp --dport 4000 --count 3 --netns fe`,
    )
    .action(async (file: string | undefined, o: TraceOptions) => {
      if (o.live) return traceLive(file, o);
      const runner = runnerFor(o.netns);
      let view = await readKernelView(runner);
      let model: NftModel;
      if (file) {
        const resolved = loadConfigFile(file, o.maxConfigSize);
        const compiled = await compileFor(resolved, runner);
        view = viewAfterApply(view, compiled.desired);
        model = { marks: compiled.desired.marks, balancers: compiled.desired.balancers };
      } else {
        const applied = readStateOrEmpty(o.netns).applied?.desired;
        model = { marks: applied?.marks, balancers: applied?.balancers };
      }
      const packet = packetFromOptions(o, view.links);
      model.remembered = await rememberedTargets(runner, model.balancers ?? [], packet);
      const t = trace(view, model, packet, o.reply);
      if (o.json) {
        printJson({
          packet,
          result: t.result,
          steps: t.steps,
          ...(t.reply ? { reply: { packet: t.reply.packet, result: t.reply.result, steps: t.reply.steps, sameInterface: t.reply.sameInterface } } : {}),
        });
        return;
      }
      const lines = [`packet ${packet.src ?? "(host's choice)"} -> ${packet.dst}${packet.iif ? ` arriving on ${packet.iif}` : " sent by the host"}${packet.mark ? ` mark ${packet.mark}` : ""}`];
      for (const s of t.steps) lines.push(`  ${s.text}`);
      lines.push(`  => ${describe(t.result)}`);
      if (t.reply) {
        lines.push(`reply ${t.reply.packet.src} -> ${t.reply.packet.dst}${t.reply.packet.iif ? ` arriving on ${t.reply.packet.iif}` : " sent by the host"}`);
        for (const s of t.reply.steps) lines.push(`  ${s.text}`);
        lines.push(`  => ${describe(t.reply.result)}`);
        if (t.reply.sameInterface === true) lines.push(`  the reply leaves by ${packet.iif}, the interface the request came in on`);
        if (t.reply.sameInterface === false) lines.push(`  WARNING: the reply leaves by ${t.reply.result.dev ?? "nowhere"}, not by ${packet.iif} where the request came in`);
      }
      process.stdout.write(lines.join("\n") + "\n");
    });
}

/** For balancers with flow memory: which target the kernel remembers the packet's flow on (only with both ports known). */
async function rememberedTargets(runner: Runner, balancers: BalancerInfo[], packet: Packet): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  const withPorts = packet.proto === 6 || packet.proto === 17 || packet.proto === 132;
  if (!withPorts || !packet.src || packet.sport === undefined || packet.dport === undefined) return out;
  const family = packet.dst.includes(":") ? 6 : 4;
  for (const b of balancers) {
    if (!b.flowMemory || !b.vips.includes(packet.dst)) continue;
    const sets = b.targets.map((t) => ({ name: t.name, set: flowSetName(t.chain, family) }));
    // a packet the fast path takes is remembered in the netdev table's sets of the same names
    const table = fastPathVerdict(b, packet)?.taken ? "netdev" : "inet";
    out.set(b.name, await findRememberedFlow(runner, NFT_TABLE, sets, { src: packet.src, dst: packet.dst, sport: packet.sport, dport: packet.dport }, table));
  }
  return out;
}


/** The flow selector of `--live`, refusing what cannot be traced. */
export function selectorFromOptions(o: TraceOptions, links: string[] | undefined): FlowSelector {
  for (const [flag, given] of [["--reply", o.reply], ["--mark", o.mark], ["--uid", o.uid]] as const)
    if (given !== undefined && given !== false) throw new CliError(`${flag} cannot be used with --live: it traces the packets as they come`);
  const sel: FlowSelector = {};
  const families = new Set<number>();
  for (const [flag, text, key] of [["--from", o.from, "src"], ["--to", o.to, "dst"]] as const) {
    if (text === undefined) continue;
    const p = parsePrefix(text);
    if (!p) throw new CliError(`${flag}: '${text}' is not an IPv4 or IPv6 address or prefix`);
    families.add(p.family);
    sel[key] = text;
  }
  if (families.size > 1) throw new CliError(`--from ${o.from} and --to ${o.to} are of different address families`);
  if (o.iif !== undefined) {
    if (links && !links.includes(o.iif)) throw new CliError(`--iif: no interface named '${o.iif}' (known: ${links.join(", ")})`);
    sel.iif = o.iif;
  }
  if (o.proto !== undefined) {
    const proto = PROTOCOLS[o.proto] ?? number("proto", o.proto, 255);
    if (proto === undefined) throw new CliError(`--proto: '${o.proto}' is not tcp, udp, sctp, icmp or a number`);
    sel.proto = proto;
  }
  const sport = number("sport", o.sport, 65535);
  const dport = number("dport", o.dport, 65535);
  if (sport !== undefined) sel.sport = sport;
  if (dport !== undefined) sel.dport = dport;
  return sel;
}

function selectorText(sel: FlowSelector): string {
  const proto = sel.proto === undefined ? "" : (Object.entries(PROTOCOLS).find(([, n]) => n === sel.proto)?.[0] ?? `proto ${sel.proto}`) + " ";
  const side = (a: string | undefined, port: number | undefined) => `${a ?? "any"}${port !== undefined ? ` port ${port}` : ""}`;
  return `${proto}${side(sel.src, sel.sport)} -> ${side(sel.dst, sel.dport)}${sel.iif ? ` arriving on ${sel.iif}` : ""}`;
}

/** One packet as text: its flow, each rule of symroute's it hit, the balancer's choice, the ip rule and the kernel's route. */
export function liveReportText(r: LiveReport): string {
  const f = r.flow;
  const where = r.hook === "output" ? " sent by the host" : f.iif ? ` arriving on ${f.iif}` : "";
  const lines = [`packet ${r.n}: ${flowText(f)}${where}${f.tcpFlags ? ` (${f.tcpFlags})` : ""}`];
  if (r.steps.length === 0) lines.push("  no chain of symroute's saw it");
  for (const s of r.steps) {
    if (s.kind === "rule") lines.push(`  ${s.chain}: ${s.rule ?? ""}${s.comment ? ` # ${s.comment}` : ""}${s.verdict ? ` -> ${s.verdict}` : ""}`);
    else lines.push(`  ${s.chain}: ${s.kind} ${s.verdict ?? ""}${s.mark !== undefined ? `, mark ${hex(s.mark)}` : ""}`);
  }
  const b = r.balancer;
  if (b) {
    const how =
      b.source === "memory"
        ? "from flow memory"
        : b.source === "table"
          ? `Maglev entry ${b.entry ?? "?"}${b.size ? ` of ${b.size}` : ""} (from the table${b.entryOwner && b.target && b.entryOwner !== b.target ? `; the applied table gives it to ${b.entryOwner}: the kernel's table differs` : ""})`
          : b.noFlow
            ? "no flow matched: dropped"
            : "";
    const choice = [b.target ? `target ${b.target}` : "", b.mark !== undefined ? `mark ${hex(b.mark)}` : ""].filter(Boolean).join(", ");
    lines.push(`  balancer ${b.name}: ${[b.flow ? `flow ${b.flow}` : "", how].filter(Boolean).join(", ")}${choice ? ` -> ${choice}` : ""}`);
  }
  for (const rule of r.rules) lines.push(`  ${rule}`);
  if (r.route) lines.push(`  => ${describe(r.route)}${r.mark ? ` (mark ${hex(r.mark)})` : ""}`);
  else lines.push(`  => ${r.verdict === "drop" ? "dropped" : (r.verdict ?? "no verdict seen")}`);
  return lines.join("\n");
}

async function traceLive(file: string | undefined, o: TraceOptions): Promise<void> {
  if (file) throw new CliError("--live traces the kernel as it is: no config file");
  const count = number("count", o.count ?? "10", 1_000_000);
  if (!count) throw new CliError(`--count: '${o.count}' is not a number from 1 to 1000000`);
  const duration = durationMs(o.duration ?? "10s");
  if (duration === null || duration <= 0 || duration > 86_400_000) throw new CliError(`--duration: '${o.duration}' is not a duration such as 500ms, 10s or 2m (at most a day)`);
  const runner = runnerFor(o.netns);
  const view = await readKernelView(runner);
  const selector = selectorFromOptions(o, view.links);
  const balancers = readStateOrEmpty(o.netns).applied?.desired.balancers ?? [];
  const interrupts = interruptSignal();
  let result: LiveResult;
  try {
    result = await runLiveTrace(runner, {
      selector,
      count,
      durationMs: duration,
      balancers,
      view,
      signal: interrupts.signal,
      onTracing: () => process.stderr.write(`tracing ${selectorText(selector)}${o.netns ? ` in ${o.netns}` : ""} for ${o.duration ?? "10s"} or ${count} packet${count === 1 ? "" : "s"} (Ctrl-C to stop)\n`),
      onPacket: (r) => {
        if (!o.json) process.stdout.write(liveReportText(r) + "\n");
      },
      onLost: (why) => process.stderr.write(`warning: the kernel dropped trace events (${why}); some packets may be incomplete\n`),
    });
  } finally {
    interrupts.dispose();
  }
  if (o.json) printJson({ selector, count, durationMs: duration, stoppedBy: result.stoppedBy, lost: result.lost, packets: result.packets });
  if (result.packets.length === 0) {
    process.stderr.write(`no packet matched ${selectorText(selector)} ${result.stoppedBy === "signal" ? "before the trace was interrupted" : `within ${o.duration ?? "10s"}`}; the trace table is removed\n`);
    process.exitCode = EXIT.noPackets;
    return;
  }
  process.stderr.write(`${result.packets.length} packet${result.packets.length === 1 ? "" : "s"} traced (${result.stoppedBy === "count" ? "count reached" : result.stoppedBy === "signal" ? "interrupted" : result.stoppedBy === "monitor" ? "nft monitor ended" : "time is up"}); the trace table is removed\n`);
}
