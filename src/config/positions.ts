/**
 * One YAML parse that yields both the value and the place of every node, so a
 * field path can be turned into line and column. js-yaml's parse events (a
 * node opens, a node closes) are recorded per collection: the start offset of
 * each child, and for mappings the key each pair has. It costs a few numbers
 * per node, where a full document model (the `yaml` package) took seconds and
 * hundreds of megabytes on a 4 MiB file.
 */
import * as jsyaml from "js-yaml";
import { CORE_SCHEMA, load, type State, type Type } from "js-yaml";
import type { FieldPath } from "./errors.js";

/**
 * YAML 1.2's core schema (no implicit timestamps: `2024-01-01` stays a string)
 * plus the explicit tags users may write by mistake (`!!binary`, `!!set`, ...),
 * so that they become values the checks can describe instead of parse errors.
 */
const types = (jsyaml as unknown as { types: Record<"binary" | "omap" | "pairs" | "set" | "timestamp", Type> }).types; // exported since js-yaml 4, missing from @types/js-yaml
const SCHEMA = CORE_SCHEMA.extend({ explicit: [types.binary, types.omap, types.pairs, types.set, types.timestamp] });

/** Nesting deeper than any config needs; js-yaml refuses it before the stack overflows. */
const MAX_DEPTH = 64;

/** Nodes that aliases may add to the document: beyond this, a few lines of anchors would expand to billions of nodes. */
const MAX_ALIAS_EXPANSION = 100_000;

/** The children of one collection, in file order. */
interface Collection {
  /**
   * Two entries per child: where it starts (before leading whitespace for some;
   * see `skipToValue`) and what it parsed to (for a mapping, keys and values
   * alternate). One flat array: the listener runs for every node of the file.
   */
  children: unknown[];
  /** lookups so far; after a few, `keyIndex` is built */
  lookups?: number;
  /** key text to pair index, for collections looked up often */
  keyIndex?: Map<string, number>;
}

/** js-yaml's parser state has more than its type declarations say; these two fields are read by the listener. */
type ParserState = State & { depth: number; anchor: string | null };

/** A parse error with its place (0-based offset). */
export class YamlSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = "YamlSyntaxError";
  }
}

/** The parsed document and the way back from a field path to the text. */
export class PositionedDocument {
  private lineStarts: number[] | null = null;

  constructor(
    readonly text: string,
    readonly value: unknown,
    private readonly rootStart: number,
    private readonly collections: Map<object, Collection>,
  ) {}

  /** Offset of the node at `path` (of its key when `atKey`); the deepest node that exists when the path goes further. */
  offsetOf(path: FieldPath, atKey = false): number {
    let value = this.value;
    let offset = this.rootStart;
    for (let i = 0; i < path.length; i++) {
      const part = path[i];
      const collection = value !== null && typeof value === "object" ? this.collections.get(value) : undefined;
      if (!collection) break;
      if (Array.isArray(value)) {
        // a sequence whose children do not line up one to one (a flow pair `[a: 1]`) gives no positions
        if (typeof part !== "number" || collection.children.length !== 2 * value.length || part >= value.length) break;
        offset = collection.children[2 * part] as number;
        value = value[part];
        continue;
      }
      const pair = this.pairIndex(collection, String(part));
      if (pair === undefined) break;
      if (atKey && i === path.length - 1) return this.skipToValue(collection.children[4 * pair] as number, false);
      offset = collection.children[4 * pair + 2] as number;
      value = collection.children[4 * pair + 3];
    }
    // an empty value has no text of its own: stay on its line rather than land on the next key
    return this.skipToValue(offset, value !== null && value !== undefined);
  }

  /** 1-based line and column of an offset. */
  lineCol(offset: number): { line: number; col: number } {
    const starts = (this.lineStarts ??= lineStartsOf(this.text));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - starts[lo] + 1 };
  }

  private pairIndex(collection: Collection, key: string): number | undefined {
    const { children } = collection;
    if (children.length % 4 !== 0) return undefined;
    // a few lookups scan (a config's maps are small, and reported keys come first); many build an index,
    // so that locating the keys of a map of 200000 unknown fields does not scan it for each
    if (!collection.keyIndex && (collection.lookups = (collection.lookups ?? 0) + 1) <= 32) {
      for (let k = 1; k < children.length; k += 4) if (String(children[k]) === key) return (k - 1) / 4;
      return undefined;
    }
    if (!collection.keyIndex) {
      collection.keyIndex = new Map();
      for (let k = children.length / 4 - 1; k >= 0; k--) collection.keyIndex.set(String(children[4 * k + 1]), k);
    }
    return collection.keyIndex.get(key);
  }

  /** A node opens before the blanks and comments that precede its text; skip them (not past the line's end when `lines` is false). */
  private skipToValue(offset: number, lines: boolean): number {
    const text = this.text;
    let i = offset;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09) i++;
      else if (lines && (c === 0x0a || c === 0x0d)) i++;
      else if (lines && c === 0x23 /* # */) {
        while (i < text.length && text.charCodeAt(i) !== 0x0a) i++;
      } else break;
    }
    return i < text.length ? i : offset;
  }
}

function lineStartsOf(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

/** Parses YAML text, recording where each node starts; throws YamlSyntaxError with the offset of the problem. */
export function parsePositioned(text: string): PositionedDocument {
  // js-yaml drops a byte order mark; keep offsets in the caller's text
  const shift = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  // the nodes open at each depth: where each starts and the children it has so far (parallel arrays: no object per node)
  const openStart: number[] = [];
  const openChildren: (Collection | null)[] = [];
  const collections = new Map<object, Collection>();
  let nodes = 0;
  let anchors = false;
  let rootStart = 0;
  const listener = (event: "open" | "close", raw: State) => {
    const state = raw as ParserState;
    const depth = state.depth;
    if (event === "open") {
      openStart[depth] = state.position + shift;
      openChildren[depth] = null;
      return;
    }
    nodes++;
    if (depth > 1) {
      (openChildren[depth - 1] ??= { children: [] }).children.push(openStart[depth], state.result);
    } else {
      rootStart = openStart[depth];
    }
    if (state.anchor !== null) anchors = true;
    const result: unknown = state.result;
    // the first node that produced an object owns it; an alias of it later must not take its place
    if (result !== null && typeof result === "object" && !collections.has(result)) collections.set(result, openChildren[depth] ?? { children: [] });
  };
  let value: unknown;
  try {
    value = load(shift ? text.slice(1) : text, { schema: SCHEMA, json: false, listener, maxDepth: MAX_DEPTH } as Parameters<typeof load>[1]);
  } catch (e) {
    const mark = (e as { mark?: { position?: number } }).mark;
    const reason = (e as { reason?: string }).reason ?? (e instanceof Error ? e.message : String(e));
    throw new YamlSyntaxError(reason, (mark?.position ?? 0) + shift);
  }
  if (anchors) checkAliasExpansion(value, nodes + MAX_ALIAS_EXPANSION, rootStart);
  return new PositionedDocument(text, value ?? null, rootStart, collections);
}

/** Refuses documents whose aliases expand beyond `budget` nodes (the "billion laughs"): the checks walk every expanded node. */
function checkAliasExpansion(value: unknown, budget: number, at: number): void {
  const stack: unknown[] = [value];
  let visited = 0;
  while (stack.length > 0) {
    const v = stack.pop();
    if (++visited > budget) throw new YamlSyntaxError(`aliases expand the document beyond ${budget} nodes`, at);
    if (Array.isArray(v)) for (const item of v) stack.push(item);
    else if (v !== null && typeof v === "object" && !(v instanceof Uint8Array) && !(v instanceof Date)) for (const item of Object.values(v)) stack.push(item);
  }
}
