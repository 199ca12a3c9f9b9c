/**
 * `symroute fleet push FILE` and `symroute fleet status` (issue 20): the
 * fleet's shared config revisions and its members side by side, read from
 * the etcd named by a config file's `fleet` section.
 */
import type { Command } from "commander";
import { readFileSync } from "node:fs";
import { userInfo, hostname } from "node:os";
import { CliError, EXIT, loadConfigFile, printJson } from "../common.js";
import { formatIssue } from "../../config/errors.js";
import { openFleet, type FleetHandle } from "../../fleet/settings.js";
import { stateFromKvs } from "../../fleet/state.js";
import { compareMembers, type Disagreement } from "../../fleet/compare.js";
import type { MemberRecord } from "../../fleet/records.js";

/** The fleet of the config file given with --config. */
function fleetOf(configFile: string): FleetHandle {
  const resolved = loadConfigFile(configFile);
  const fleet = resolved.config.fleet;
  if (!fleet) throw new CliError(`${configFile}: has no fleet section (fleet: { name, etcd: { endpoints } })`);
  return openFleet(fleet);
}

/** The rows of `fleet status`, one line per member and field, disagreements marked with '!'. */
export function statusText(members: MemberRecord[], disagreements: Disagreement[], rejected: { key: string; problems: string[] }[]): string {
  if (members.length === 0) return "no member records in the store\n";
  const marked = (m: string, subject: string) => disagreements.some((d) => d.member === m && d.subject === subject);
  const names = members.map((m) => m.member);
  // the widest cell is a marked fingerprint with its counts ("!0123abcd 12/64")
  const width = Math.max(16, ...names.map((n) => n.length + 2));
  const rows: [string, (m: MemberRecord) => string, string | null][] = [
    ["revision", (m) => (m.appliedRevision === null ? "local" : String(m.appliedRevision)), "config revision"],
    ["store", (m) => (m.storeConnected ? "connected" : "LOST"), null],
    ["reconciled", (m) => m.lastReconcile?.slice(11, 19) ?? "-", null],
    ["vips", (m) => String(m.vipsAnnounced.length), null],
    ["down", (m) => String(m.targetsDown.length), null],
  ];
  const balancers = [...new Set(members.flatMap((m) => Object.keys(m.balancers)))].sort();
  for (const b of balancers) {
    rows.push([`lb ${b}`, (m) => {
      const i = m.balancers[b];
      return i ? `${i.fingerprint.slice(0, 8)} ${Object.values(i.targets).filter((s) => s === "serving").length}/${Object.keys(i.targets).length}` : "-";
    }, `balancer ${b}`]);
  }
  const label = Math.max(...rows.map((r) => r[0].length)) + 2;
  const lines = [("".padEnd(label) + names.map((n) => n.padEnd(width)).join(" ")).trimEnd()];
  for (const [title, cell, subject] of rows)
    lines.push((title.padEnd(label) + members.map((m) => `${subject && marked(m.member, subject) ? "!" : ""}${cell(m)}`.padEnd(width)).join(" ")).trimEnd());
  if (disagreements.length) {
    lines.push("", "disagreements:");
    for (const d of disagreements) lines.push(`  ! ${d.member}: ${d.subject}: ${d.detail}`);
  } else lines.push("", "all members agree");
  for (const r of rejected) lines.push(`ignored ${r.key}: ${r.problems.join("; ")}`);
  return lines.join("\n") + "\n";
}

/** Registers `fleet push` and `fleet status`. */
export function registerFleetCommands(program: Command): void {
  const fleet = program.command("fleet").description("the fleet of frontends that share their targets and config through etcd");
  fleet
    .command("push FILE")
    .description("validate FILE and store it as the fleet's next config revision; prints the revision")
    .requiredOption("--config <file>", "config file whose fleet section names the etcd (may be FILE itself)")
    .option("--json", "machine-readable output")
    .action(async (file: string, opts: { config: string; json?: boolean }) => {
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (e) {
        throw new CliError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
      const handle = fleetOf(opts.config);
      try {
        const by = `${userInfo().username}@${hostname()}`.replace(/[^A-Za-z0-9@_.-]/g, "-").slice(0, 128);
        const result = await handle.store.pushConfig(text, file, by);
        if (!result.ok) throw new CliError(`${file}: not pushed:\n${result.issues.map(formatIssue).join("\n")}`, EXIT.invalid, result.issues);
        if (opts.json) printJson({ revision: result.revision });
        else process.stdout.write(`pushed ${file} as revision ${result.revision}\n`);
      } finally {
        handle.client.close();
      }
    });
  fleet
    .command("status")
    .description("every member's record side by side: config revision, Maglev inputs, VIPs; disagreements marked")
    .requiredOption("--config <file>", "config file whose fleet section names the etcd")
    .option("--json", "machine-readable output")
    .action(async (opts: { config: string; json?: boolean }) => {
      const handle = fleetOf(opts.config);
      try {
        const { kvs, revision } = await handle.client.range(handle.keys.root, { prefix: true });
        const state = stateFromKvs(handle.keys, kvs, revision);
        const members = [...state.members.values()].sort((a, b) => (a.member < b.member ? -1 : 1));
        const disagreements = compareMembers(members);
        const rejected = [...state.rejected.values()];
        if (opts.json) printJson({ revision, members, disagreements, rejected });
        else process.stdout.write(statusText(members, disagreements, rejected));
      } finally {
        handle.client.close();
      }
    });
}
