/**
 * `symroute trace`: where a packet goes and why, against the live kernel
 * (with symroute's applied marks) or against a config (the kernel as it
 * would be after applying it).
 */
import type { Command } from "commander";
import { CliError, compileFor, loadConfigFile, printJson, runnerFor } from "../common.js";
import { MAX_CONFIG_SIZE_HELP, MAX_CONFIG_SIZE_OPTION } from "../../config/read.js";
import { readKernelView } from "../../kernel/simView.js";
import { readStateOrEmpty } from "../common.js";
import { trace, type NftModel } from "../../simulate/trace.js";
import { viewAfterApply } from "../../simulate/fromDesired.js";
import { canonicalAddress, parseAddress } from "../../net/ip.js";
import type { Packet, RouteResult } from "../../simulate/types.js";

const PROTOCOLS: Record<string, number> = { tcp: 6, udp: 17, sctp: 132, icmp: 1, icmpv6: 58 };

interface TraceOptions {
  maxConfigSize?: string;
  from?: string;
  to: string;
  iif?: string;
  proto?: string;
  sport?: string;
  dport?: string;
  mark?: string;
  uid?: string;
  reply?: boolean;
  netns?: string;
  json?: boolean;
}

function number(name: string, text: string | undefined, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = /^0x[0-9a-f]+$/i.test(text) ? Number.parseInt(text, 16) : /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > max) throw new CliError(`--${name}: '${text}' is not a number from 0 to ${max}`);
  return n;
}

/** Builds the packet from the options, refusing what the kernel would refuse. */
export function packetFromOptions(o: TraceOptions, links: string[] | undefined): Packet {
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
    .option("--from <address>", "source address")
    .requiredOption("--to <address>", "destination address")
    .option("--iif <dev>", "the interface the packet arrives on (absent: sent by the host itself)")
    .option("--proto <proto>", "tcp, udp, sctp, icmp or a number")
    .option("--sport <port>")
    .option("--dport <port>")
    .option("--mark <mark>", "fwmark the packet already carries")
    .option("--uid <uid>", "socket owner of a locally sent packet")
    .option("--reply", "also trace the reply, and say whether it leaves by the interface the request came in on")
    .option("--netns <name>", "network namespace")
    .option("--json", "machine-readable output")
    .option(MAX_CONFIG_SIZE_OPTION, MAX_CONFIG_SIZE_HELP)
    .action(async (file: string | undefined, o: TraceOptions) => {
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
