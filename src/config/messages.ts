/**
 * How a wrong value is described to the user: what the field expected and
 * what the file gave, in YAML's words ("a map", "a list", "the string "100""),
 * never zod's defaults ("Invalid input") and never "missing" for a value that
 * is there but of the wrong type.
 */
import type { z } from "zod";

/** Longest piece of a user's value quoted back in a message: a 4 MiB string must not become a 4 MiB message. */
const QUOTE_MAX = 60;

/** A user's text, quoted and shortened. */
export function quote(text: string): string {
  const short = text.length > QUOTE_MAX ? `${text.slice(0, QUOTE_MAX)}...` : text;
  return JSON.stringify(short);
}

/** A value from the parsed file as a user would name it: `the string "100"`, `a list`, `binary data (!!binary)`. */
export function describeInput(input: unknown): string {
  if (input === undefined) return "nothing";
  if (input === null) return "an empty value (null)";
  if (typeof input === "string") return input === "" ? "an empty string" : `the string ${quote(input)}`;
  if (typeof input === "number") {
    if (Number.isNaN(input)) return "not-a-number (.nan)";
    if (!Number.isFinite(input)) return "an infinite number";
    return `the number ${input}`;
  }
  if (typeof input === "boolean") return `the boolean ${input}`;
  if (typeof input === "bigint") return `the number ${input}`;
  if (Array.isArray(input)) return input.length === 0 ? "an empty list" : "a list";
  if (input instanceof Uint8Array) return "binary data (!!binary)";
  if (input instanceof Date) return "a timestamp";
  if (input instanceof Map) return "a map";
  if (input instanceof Set) return "a set (!!set)";
  if (typeof input === "object") return Object.keys(input).length === 0 ? "an empty map" : "a map";
  return `a ${typeof input}`;
}

/** "expected X, got Y", or "required field is missing" when there is no value at all. */
export function expectedGot(expected: string, input: unknown): string {
  if (input === undefined) return `required field is missing (expected ${expected})`;
  const hint = expected.startsWith("a string") && (typeof input === "number" || typeof input === "boolean") ? ` (quote it: "${String(input)}")` : "";
  return `expected ${expected}, got ${describeInput(input)}${hint}`;
}

/** zod's names of types, as the config reference names them. */
const TYPE_NAMES: Record<string, string> = {
  string: "a string",
  number: "an integer",
  int: "an integer",
  boolean: "true or false",
  array: "a list",
  object: "a map",
  record: "a map",
  map: "a map",
  set: "a list",
  bigint: "an integer",
  date: "a timestamp",
  null: "an empty value",
};

/** The name of what a zod type check wanted. */
function typeName(expected: string): string {
  return TYPE_NAMES[expected] ?? `a ${expected}`;
}

type RawIssue = Parameters<z.core.$ZodErrorMap>[0];

/** A number as the user probably wrote it: masks in hex, everything else in decimal. */
function showNumber(n: unknown, hex: boolean): string {
  if (typeof n === "number" && hex && Number.isInteger(n) && n >= 0) return `0x${n.toString(16)}`;
  if (typeof n === "bigint" && hex && n >= 0n) return `0x${n.toString(16)}`;
  return String(n);
}

/** Names the expected type of each branch of a union whose input matched none. */
function unionExpectation(issue: RawIssue & { code: "invalid_union" }): string | null {
  const names = new Set<string>();
  for (const branch of issue.errors) {
    const root = branch.find((i) => i.path.length === 0 && i.code === "invalid_type");
    if (!root || root.code !== "invalid_type") return null;
    names.add(typeName(root.expected));
  }
  return names.size ? [...names].join(" or ") : null;
}

/**
 * The error map for every config parse: runs after a field's own message (the
 * schema's `error` params) and before zod's English defaults. Every branch
 * names what was expected and what the file gave.
 */
export const configErrorMap: z.core.$ZodErrorMap = (issue) => {
  const input = issue.input;
  const last = issue.path?.[issue.path.length - 1];
  const hex = typeof last === "string" && /mask/i.test(last);
  switch (issue.code) {
    case "invalid_type":
      return expectedGot(typeName(issue.expected), input);
    case "invalid_value": {
      const values = issue.values.map((v) => (typeof v === "string" ? JSON.stringify(v) : String(v)));
      const want = values.length === 1 ? `must be ${values[0]}` : `must be one of ${values.join(", ")}`;
      if (input === undefined) return `required field is missing (${want.replace(/^must be/, "expected")})`;
      return `${want}, got ${describeInput(input)}`;
    }
    case "too_small": {
      if (issue.origin === "array" || issue.origin === "set") {
        const n = Number(issue.minimum);
        return `must list at least ${n} ${n === 1 ? "entry" : "entries"}, got ${Array.isArray(input) ? input.length : 0}`;
      }
      if (issue.origin === "string") return `must be at least ${issue.minimum} characters long`;
      return `must be ${issue.inclusive === false ? "more than" : "at least"} ${showNumber(issue.minimum, hex)}, got ${showNumber(input, hex)}`;
    }
    case "too_big": {
      if (issue.origin === "array" || issue.origin === "set") return `must list at most ${issue.maximum} entries, got ${Array.isArray(input) ? input.length : "more"}`;
      if (issue.origin === "string") return `must be at most ${issue.maximum} characters long`;
      return `must be ${issue.inclusive === false ? "less than" : "at most"} ${showNumber(issue.maximum, hex)}, got ${showNumber(input, hex)}`;
    }
    case "invalid_union": {
      const names = unionExpectation(issue);
      return names ? expectedGot(names, input) : `not a valid value: ${describeInput(input)}`;
    }
    case "invalid_format":
      return typeof input === "string" ? `has the wrong form: ${quote(input)}` : undefined;
    case "not_multiple_of":
      return `must be a multiple of ${issue.divisor}, got ${showNumber(input, hex)}`;
    default:
      return undefined;
  }
};
