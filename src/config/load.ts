/**
 * Turns the text of symroute.yaml into a ResolvedConfig, or into every problem
 * found, each with file, line, column and field. Takes text, not a path, so it
 * stays pure; the CLI reads the file.
 */
import { LineCounter, parseDocument } from "yaml";
import { load as fastLoad, CORE_SCHEMA } from "js-yaml";
import type { z } from "zod";
import { configSchema, type Config } from "./schema.js";
import type { ConfigIssue, FieldPath } from "./errors.js";
import { lineCol, offsetOf } from "./locate.js";
import { checkSemantics, type PathIssue } from "./semantic.js";
import { parseMask, parseRange, type ResolvedConfig } from "./resolved.js";
import { configErrorMap } from "./messages.js";

/**
 * Either the config or the issues; never both. At most `maxIssues` issues are
 * kept (the first in file order); `omitted` counts the rest.
 */
export type LoadResult = { ok: true; value: ResolvedConfig } | { ok: false; issues: ConfigIssue[]; omitted: number };

/** Options of a load. */
export interface LoadOptions {
  /** issues kept for the report (default 100): a broken 4 MiB file has more than anyone reads */
  maxIssues?: number;
}

/** Default for LoadOptions.maxIssues. */
export const MAX_ISSUES = 100;

/** Shape check with our messages; the input goes into each issue so messages can say what the file gave. */
function parseShape(raw: unknown) {
  return configSchema.safeParse(raw, { reportInput: true, error: configErrorMap });
}

/**
 * Parses, shape-checks and cross-checks a config. A valid file takes the fast
 * path (js-yaml, about 7x quicker on a large file); any problem sends it down
 * the slow path, which parses with positions so each error names its place.
 */
export function loadConfigText(text: string, file: string, options: LoadOptions = {}): LoadResult {
  const fast = tryFast(text, file);
  if (fast) return fast;
  return loadWithPositions(text, file, options);
}

function tryFast(text: string, file: string): LoadResult | null {
  let raw: unknown;
  try {
    raw = fastLoad(text, { schema: CORE_SCHEMA, json: false }) ?? {};
  } catch {
    return null;
  }
  const parsed = parseShape(raw);
  if (!parsed.success || checkSemantics(parsed.data).length > 0) return null;
  return { ok: true, value: resolve(parsed.data, file) };
}

function resolve(config: Config, file: string, warnings: ConfigIssue[] = []): ResolvedConfig {
  return {
    file,
    config,
    warnings,
    tables: parseRange(config.allocate.tables)!,
    priorities: parseRange(config.allocate.priorities)!,
    markMask: parseMask(config.allocate.markMask),
  };
}

/** The slow path: every node keeps its place in the text. */
export function loadWithPositions(text: string, file: string, options: LoadOptions = {}): LoadResult {
  const maxIssues = options.maxIssues ?? MAX_ISSUES;
  const fail = (issues: ConfigIssue[]): LoadResult => {
    const sorted = sortIssues(issues);
    return { ok: false, issues: sorted.slice(0, maxIssues), omitted: Math.max(0, sorted.length - maxIssues) };
  };
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return fail(
      doc.errors.map((e) => {
        const { line, col } = lineCol(counter, e.pos[0]);
        return { file, line, col, path: [], message: `YAML: ${e.message.split("\n")[0]}` };
      }),
    );
  }
  const place = (p: PathIssue): ConfigIssue => {
    const { line, col } = lineCol(counter, offsetOf(doc, p.path, p.atKey));
    return { file, line, col, path: p.path, message: p.message };
  };
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (e) {
    return fail([{ file, line: 1, col: 1, path: [], message: `YAML: ${e instanceof Error ? e.message : String(e)}` }]);
  }
  const parsed = parseShape(raw);
  if (!parsed.success) return fail(parsed.error.issues.flatMap(zodToPathIssues).map(place));
  const semantic = checkSemantics(parsed.data);
  const errors = semantic.filter((i) => !i.warning);
  if (errors.length > 0) return fail(errors.map(place));
  return { ok: true, value: resolve(parsed.data, file, sortIssues(semantic.filter((i) => i.warning).map(place))) };
}

function zodToPathIssues(issue: z.core.$ZodIssue): PathIssue[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol") as FieldPath;
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({ path: [...path, key], message: `unknown field '${key}'`, atKey: true }));
  }
  // every other message was written by messages.ts's error map or by the field itself
  return [{ path, message: issue.message }];
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues.sort((a, b) => a.line - b.line || a.col - b.col);
}
