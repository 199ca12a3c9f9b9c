/**
 * Maps a field path to its line and column in the YAML source, so every
 * error points at the place the user has to edit.
 */
import { isMap, isSeq, isScalar, LineCounter, type Document, type Node } from "yaml";
import type { FieldPath } from "./errors.js";

/** Finds the deepest node on `path` (the key itself when `atKey`) and returns its offset. */
export function offsetOf(doc: Document, path: FieldPath, atKey = false): number {
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (const part of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(part));
      if (!pair) return offset;
      const keyStart = rangeStart(pair.key);
      if (atKey && part === path[path.length - 1]) return keyStart ?? offset;
      node = pair.value;
      offset = rangeStart(node) ?? keyStart ?? offset;
    } else if (isSeq(node) && typeof part === "number") {
      const item = node.items[part];
      if (item === undefined) return offset;
      node = item;
      offset = rangeStart(node) ?? offset;
    } else {
      return offset;
    }
  }
  return offset;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}

/** 1-based line and column of an offset. */
export function lineCol(counter: LineCounter, offset: number): { line: number; col: number } {
  const pos = counter.linePos(offset);
  return { line: pos.line, col: pos.col };
}
