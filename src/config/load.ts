/**
 * Turns the text of symroute.yaml into a ResolvedConfig, or into every problem
 * found, each with file, line, column and field. Takes text, not a path, so it
 * stays pure; the CLI reads the file (and limits its size).
 */
import { z } from "zod";
import { configSchema, loadBalancerSchema, routedNetworkSchema, serviceSchema, uplinkSchema, type Config } from "./schema.js";
import type { ConfigIssue, FieldPath } from "./errors.js";
import { checkSemantics, type PathIssue } from "./semantic.js";
import { parseMask, parseRange, type ResolvedConfig } from "./resolved.js";
import { configErrorMap, expectedGot } from "./messages.js";
import { parsePositioned, YamlSyntaxError, type PositionedDocument } from "./positions.js";

/**
 * Either the config or the issues; never both. At most `maxIssues` issues are
 * kept (the first in file order); `omitted` counts the rest that were found,
 * and `stopped` says the check gave up before the end of the file (so there
 * may be more).
 */
export type LoadResult = { ok: true; value: ResolvedConfig } | { ok: false; issues: ConfigIssue[]; omitted: number; stopped: boolean };

/** Options of a load. */
export interface LoadOptions {
  /** issues kept for the report (default 100): a broken 4 MiB file has more than anyone reads */
  maxIssues?: number;
}

/** Default for LoadOptions.maxIssues. */
export const MAX_ISSUES = 100;

/** Issues collected before the shape check stops (checked per chunk of items, so a few more): beyond the ones reported, they only feed the "and N more" count. */
export const SHAPE_ISSUE_BUDGET = 1000;

const PARSE_OPTIONS = { reportInput: true, error: configErrorMap } as const;

/** The top-level lists, checked item by item (see checkShape). */
const LIST_SCHEMAS = {
  uplinks: z.array(uplinkSchema),
  services: z.array(serviceSchema),
  loadBalancers: z.array(loadBalancerSchema),
  routedNetworks: z.array(routedNetworkSchema),
} as const;
type ListKey = keyof typeof LIST_SCHEMAS;
/** Items checked per zod call: small enough that stopping at the budget wastes little, large enough to cost no more than one call. */
const CHUNK = 256;
const TOP_LEVEL = new Set(Object.keys(configSchema.shape));
const isListKey = (key: string): key is ListKey => Object.hasOwn(LIST_SCHEMAS, key);

/** The outcome of the shape check: the config, or issues (`stopped` when the check gave up before the end of the file). */
type ShapeResult = { ok: true; config: Config } | { ok: false; issues: z.core.$ZodIssue[]; stopped: boolean };

/**
 * Shape check with our messages; the input goes into each issue so messages
 * can say what the file gave. The top-level lists are checked one item at a
 * time, in file order, and the check stops once `budget` issues are in hand:
 * zod spends about 10 us and a kilobyte of garbage per issue, so a 4 MiB file
 * with an error in every item took a second and hundreds of megabytes for
 * issues nobody reads. The issues kept are still the first in the file: items
 * come in file order and each item's issues lie within the item.
 */
function checkShape(raw: unknown, budget: number): ShapeResult {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    const parsed = configSchema.safeParse(raw, PARSE_OPTIONS);
    return parsed.success ? { ok: true, config: parsed.data } : { ok: false, issues: parsed.error.issues, stopped: false };
  }
  const record = raw as Record<string, unknown>;
  const keys = Object.keys(record);
  const lists = keys.filter((key): key is ListKey => isListKey(key) && Array.isArray(record[key]));
  // unknown fields found here, so that zod's copy of the top level holds its six fields, not 200000 typos
  const unknown = keys.filter((key) => !TOP_LEVEL.has(key));
  const top: Record<string, unknown> = {};
  for (const key of keys) if (TOP_LEVEL.has(key)) top[key] = record[key];
  for (const key of lists) top[key] = [];
  // everything but the lists' items: version, allocate, a list that is not a list
  const skeleton = configSchema.safeParse(top, PARSE_OPTIONS);
  const issues: z.core.$ZodIssue[] = skeleton.success ? [] : [...skeleton.error.issues];
  if (unknown.length > 0) issues.push({ code: "unrecognized_keys", keys: unknown, path: [], message: "", input: record });
  const items: Partial<Record<ListKey, unknown[]>> = {};
  for (const key of lists) {
    const schema = LIST_SCHEMAS[key];
    const out: unknown[] = (items[key] = []);
    const input = record[key] as unknown[];
    // in chunks: one safeParse per item costs twice the whole list's parse; one per chunk costs about the same
    for (let first = 0; first < input.length; first += CHUNK) {
      if (issues.length >= budget) return { ok: false, issues, stopped: true };
      const parsed = schema.safeParse(input.slice(first, first + CHUNK), PARSE_OPTIONS);
      if (parsed.success) out.push(...parsed.data);
      else for (const issue of parsed.error.issues) issues.push({ ...issue, path: [key, first + (issue.path[0] as number), ...issue.path.slice(1)] });
    }
  }
  if (issues.length > 0 || !skeleton.success) return { ok: false, issues, stopped: false };
  // `top` held only known fields, so the parse's data is the whole config but for the lists' items
  // each item was parsed (defaults filled in) by the same schema configSchema uses for it
  return { ok: true, config: { ...skeleton.data, ...items } as Config };
}

/**
 * Parses, shape-checks and cross-checks a config. One parse serves both the
 * value and the positions (see positions.ts); only the issues that are
 * reported are given a line and column.
 */
export function loadConfigText(text: string, file: string, options: LoadOptions = {}): LoadResult {
  const maxIssues = options.maxIssues ?? MAX_ISSUES;
  let doc: PositionedDocument;
  try {
    doc = parsePositioned(text);
  } catch (e) {
    if (!(e instanceof YamlSyntaxError)) throw e;
    const { line, col } = lineColOf(text, e.offset);
    return { ok: false, issues: [{ file, line, col, path: [], message: `YAML: ${e.message.split("\n")[0]}` }], omitted: 0, stopped: false };
  }
  const place = (issues: PathIssue[]): ConfigIssue[] => placeSorted(doc, issues, file);
  const fail = (issues: PathIssue[], stopped = false, uncounted = 0): LoadResult => {
    // file order needs an offset per issue (cheap); line, column and text only for the ones reported
    const placed = placeFirst(doc, issues, file, maxIssues);
    return { ok: false, issues: placed, omitted: Math.max(0, issues.length - placed.length) + uncounted, stopped };
  };
  const shape = checkShape(doc.value ?? {}, Math.max(SHAPE_ISSUE_BUDGET, maxIssues));
  if (!shape.ok) {
    const unknown = { beyond: 0 };
    const issues = shape.issues.flatMap((issue) => zodToPathIssues(issue, maxIssues, unknown));
    return fail(collapseOpaque(doc.value, issues), shape.stopped, unknown.beyond);
  }
  const semantic = checkSemantics(shape.config);
  const errors = semantic.filter((i) => !i.warning);
  if (errors.length > 0) return fail(errors);
  return { ok: true, value: { ...resolve(shape.config, file, place(semantic.filter((i) => i.warning))), place } };
}

/** The same as loadConfigText: kept for callers (and tests) of the former positioned path. */
export const loadWithPositions = loadConfigText;

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

/** The first `max` issues in file order, located. */
function placeFirst(doc: PositionedDocument, issues: PathIssue[], file: string, max: number): ConfigIssue[] {
  const withOffsets = issues.map((issue, order) => ({ issue, order, offset: doc.offsetOf(issue.path, issue.atKey) }));
  withOffsets.sort((a, b) => a.offset - b.offset || a.order - b.order);
  return withOffsets.slice(0, max).map(({ issue, offset }) => located(doc, issue, offset, file));
}

function placeSorted(doc: PositionedDocument, issues: PathIssue[], file: string): ConfigIssue[] {
  return placeFirst(doc, issues, file, issues.length);
}

function located(doc: PositionedDocument, issue: PathIssue, offset: number, file: string): ConfigIssue {
  const { line, col } = doc.lineCol(offset);
  return { file, line, col, path: issue.path, message: issue.message };
}

/** Line and column of an offset in text that did not parse. */
function lineColOf(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, col: offset - start + 1 };
}

/** Values zod takes for maps (any object) that are not: `!!binary` data and timestamps. */
function isOpaque(value: unknown): value is Uint8Array | Date {
  return value instanceof Uint8Array || value instanceof Date;
}

/**
 * zod reads a `!!binary` value given for a map as a map with keys "0", "1"...
 * and reports those keys and every missing field. One issue on the value
 * itself says what happened.
 */
function collapseOpaque(raw: unknown, issues: PathIssue[]): PathIssue[] {
  const out: PathIssue[] = [];
  const collapsed = new Set<string>();
  for (const issue of issues) {
    let value = raw;
    let at = -1;
    for (let i = 0; i < issue.path.length && value !== null && typeof value === "object"; i++) {
      if (isOpaque(value)) {
        at = i;
        break;
      }
      value = (value as Record<string | number, unknown>)[issue.path[i]];
    }
    if (at < 0) {
      out.push(issue);
      continue;
    }
    const path = issue.path.slice(0, at);
    const key = JSON.stringify(path);
    if (collapsed.has(key)) continue;
    collapsed.add(key);
    out.push({ path, message: expectedGot("a map", value) });
  }
  return out;
}

/**
 * One issue per unknown field, but only the first `max` of one map (the ones
 * that can be reported: a map's keys come in file order); the rest are
 * counted in `unknown.beyond`.
 */
function zodToPathIssues(issue: z.core.$ZodIssue, max: number, unknown: { beyond: number }): PathIssue[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol") as FieldPath;
  if (issue.code === "unrecognized_keys") {
    unknown.beyond += Math.max(0, issue.keys.length - max);
    return issue.keys.slice(0, max).map((key) => ({ path: [...path, key], message: `unknown field '${key.length > 60 ? `${key.slice(0, 60)}...` : key}'`, atKey: true }));
  }
  // every other message was written by messages.ts's error map or by the field itself
  return [{ path, message: issue.message }];
}
