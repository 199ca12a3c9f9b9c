/**
 * What every command shares: exit codes, reading and compiling a config file,
 * printing errors, and a runner for `--netns`.
 */
import { existsSync } from "node:fs";
import { loadConfigText } from "../config/load.js";
import { ConfigTooLargeError, DEFAULT_MAX_CONFIG_SIZE, formatSize, MAX_CONFIG_SIZE_CEILING, parseSize, readConfigFile } from "../config/read.js";
import { formatIssue, type ConfigIssue } from "../config/errors.js";
import type { ResolvedConfig } from "../config/resolved.js";
import type { Compiled } from "../compile/index.js";
import { AllocationError } from "../compile/allocate.js";
import { ProcessRunner, type Runner } from "../engine/index.js";
import { readFacts } from "../engine/index.js";
import type { IpState } from "../engine/index.js";
import { emptyState, readStateTolerant, type StateFile } from "../engine/index.js";
import { compileForHost } from "../engine/host.js";
import { noFacts, type HostFacts } from "../model/facts.js";
import { NETNS_NAME } from "../config/names.js";

/** Exit codes of the design: 0 ok, 1 invalid or refused, 2 plan found changes, 3 apply failed and rolled back, 4 `trace --live` saw no packet. */
export const EXIT = { ok: 0, invalid: 1, changes: 2, rolledBack: 3, noPackets: 4 } as const;

/** An error that ends the command with a code and a message for the user. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.invalid,
    readonly issues: ConfigIssue[] = [],
  ) {
    super(message);
    this.name = "CliError";
  }
}

/**
 * Reads and validates a config file, or throws a CliError listing every issue
 * (the first 100, then how many more). `maxSize` is `--max-config-size`
 * (bytes or `4MiB`); a larger file is refused before it is parsed.
 */
export function loadConfigFile(file: string, maxSize: string | number = DEFAULT_MAX_CONFIG_SIZE): ResolvedConfig {
  const limit = parseSize(maxSize);
  if (limit === null) throw new CliError(`--max-config-size: '${maxSize}' is not a size such as 4194304 or 4MiB`);
  if (limit > MAX_CONFIG_SIZE_CEILING) throw new CliError(`--max-config-size: at most ${formatSize(MAX_CONFIG_SIZE_CEILING)}`);
  let text: string;
  try {
    text = readConfigFile(file, limit);
  } catch (e) {
    if (e instanceof ConfigTooLargeError) throw new CliError(e.message);
    throw new CliError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const result = loadConfigText(text, file);
  if (!result.ok) {
    const n = result.omitted;
    const more = result.stopped
      ? `\n${file}: and ${n > 0 ? `at least ${n} ` : ""}more errors (checking stopped after ${result.issues.length + n})`
      : n > 0
        ? `\n${file}: and ${n} more error${n === 1 ? "" : "s"}`
        : "";
    throw new CliError(result.issues.map(formatIssue).join("\n") + more, EXIT.invalid, result.issues);
  }
  return result.value;
}

/** A runner for the namespace named by --netns (checked to exist), or the host. */
export function runnerFor(netns?: string): Runner {
  if (netns !== undefined) {
    if (!NETNS_NAME.test(netns)) throw new CliError(`--netns: '${netns}' is not a valid namespace name`);
    if (!existsSync(`/run/netns/${netns}`)) throw new CliError(`--netns: no network namespace named '${netns}' (see ip netns list)`);
  }
  return new ProcessRunner(netns);
}

/**
 * Compiles with facts from the kernel when it can be read, else with none, as
 * the host was before symroute (the state's originals). For commands that only
 * read (render, trace, doctor): an unusable state file counts as none.
 */
export async function compileFor(resolved: ResolvedConfig, runner: Runner | null, ip?: Promise<IpState>, factsRead?: Promise<HostFacts>): Promise<Compiled & { facts: HostFacts }> {
  let facts = noFacts();
  if (runner) {
    try {
      facts = await (factsRead ?? readFacts(runner, ip));
    } catch {
      facts = noFacts();
    }
  }
  try {
    return compileForHost(resolved, facts, runner ? readStateOrEmpty(runner.netns) : emptyState());
  } catch (e) {
    if (e instanceof AllocationError) throw new CliError(`${resolved.file}: ${e.message}`);
    throw e;
  }
}

/** The state, or an empty one when the file is unusable (for commands that never write it). */
export function readStateOrEmpty(netns?: string): StateFile {
  return readStateTolerant(netns).state;
}

/** Prints JSON to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}
