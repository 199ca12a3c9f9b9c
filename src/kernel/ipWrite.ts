/**
 * Writes rules and routes through `ip -batch -`, one process per family, each
 * tagged with symroute's protocol. Arguments are built as words from validated
 * values; the batch stops at the first error so apply can roll back.
 */
import type { Runner } from "./runner.js";

/** One batch line. */
export type BatchLine = string[];

/** Runs lines through `ip -4|-6 -batch -`; throws CommandError on the first failing line. */
export async function runIpBatch(runner: Runner, family: 4 | 6, lines: BatchLine[]): Promise<void> {
  if (lines.length === 0) return;
  const text = lines.map((l) => l.join(" ")).join("\n") + "\n";
  await runner.run(["ip", `-${family}`, "-batch", "-"], { stdin: text });
}
