/**
 * The API's token file, parsed (issue 17): one line per registrant,
 *
 *     # comment
 *     NAME TOKEN [BALANCER,BALANCER|*]
 *
 * so the daemon can tell registrants apart and keep each to its balancers
 * (no third field: every balancer). A file holding nothing but one bare token
 * (the format before named tokens) is that token, named `default`, allowed
 * everywhere. Pure: reading the file and its mode checks stay in api.ts.
 */
import { OBJECT_NAME } from "../config/names.js";

/** One registrant's token: its name (in logs and records), the secret, and where it may act. */
export interface ApiToken {
  name: string;
  token: string;
  balancers: readonly string[] | "*";
}

/** A token file that says nothing usable: every problem, each as `FILE:LINE: message`. */
export class TokenFileError extends Error {
  // not `issues`: the reload's answer reads that name as the config's located issues
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
  }
}

/** Shorter tokens can be guessed; the same floor as before named tokens. */
export const MIN_TOKEN_LENGTH = 16;

/** The name a bare token (the whole file) gets. */
export const DEFAULT_TOKEN_NAME = "default";

// a token travels in an HTTP header: visible ASCII only, so what the file says is what a client can send
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

/** Parses the token file's text; throws a TokenFileError naming `file` and the line of each problem, all at once. */
export function parseTokenFile(text: string, file: string): ApiToken[] {
  const issues: string[] = [];
  const lines = text.split("\n").map((l, i) => ({ n: i + 1, fields: l.trim().split(/\s+/).filter(Boolean) })).filter((l) => l.fields.length && !l.fields[0].startsWith("#"));
  if (lines.length === 0) throw new TokenFileError([`${file}: holds no token`]);
  // the format before named tokens: one bare token and nothing else
  if (lines.length === 1 && lines[0].fields.length === 1) {
    const token = lines[0].fields[0];
    const why = tokenProblem(token);
    if (why) throw new TokenFileError([`${file}:${lines[0].n}: ${why}`]);
    return [{ name: DEFAULT_TOKEN_NAME, token, balancers: "*" }];
  }
  const tokens: ApiToken[] = [];
  const names = new Map<string, number>();
  const secrets = new Map<string, number>();
  for (const { n, fields } of lines) {
    const at = `${file}:${n}`;
    if (fields.length < 2 || fields.length > 3) {
      issues.push(`${at}: expected NAME TOKEN [BALANCER,BALANCER|*], got ${fields.length} field${fields.length === 1 ? "" : "s"} (a bare token is only allowed as the file's only line)`);
      continue;
    }
    const [name, token, list] = fields;
    let bad = false;
    if (!OBJECT_NAME.test(name)) {
      issues.push(`${at}: name '${name.slice(0, 64)}' must be letters, digits, '_', '.' or '-' (at most 63)`);
      bad = true;
    } else if (names.has(name)) {
      issues.push(`${at}: name '${name}' is already used on line ${names.get(name)}`);
      bad = true;
    } else names.set(name, n);
    const why = tokenProblem(token);
    if (why) {
      issues.push(`${at}: ${name}: ${why}`);
      bad = true;
    } else if (secrets.has(token)) {
      // the line, never the token: errors end up in logs
      issues.push(`${at}: ${name}: the same token as line ${secrets.get(token)}; each registrant needs its own`);
      bad = true;
    } else secrets.set(token, n);
    const balancers = list === undefined ? "*" : parseBalancers(list, `${at}: ${name}`, issues);
    if (!bad && balancers !== null) tokens.push({ name, token, balancers });
  }
  if (issues.length) throw new TokenFileError(issues);
  return tokens;
}

/** Why a token cannot be used, or null. Never quotes the token. */
function tokenProblem(token: string): string | null {
  if (token.length < MIN_TOKEN_LENGTH) return `the token has ${token.length} characters; a token needs at least ${MIN_TOKEN_LENGTH}`;
  if (!TOKEN_CHARS.test(token)) return "the token must be visible ASCII characters (it is sent in an HTTP header)";
  return null;
}

/** `*` or a comma-separated list of balancer names; null (and an issue) when wrong. */
function parseBalancers(list: string, at: string, issues: string[]): readonly string[] | "*" | null {
  if (list === "*") return "*";
  const names = list.split(",");
  const bad = names.filter((b) => !OBJECT_NAME.test(b));
  if (bad.length) {
    issues.push(`${at}: balancers must be '*' or names separated by commas (no spaces), got '${list.slice(0, 200)}'`);
    return null;
  }
  const twice = names.filter((b, i) => names.indexOf(b) !== i);
  if (twice.length) {
    issues.push(`${at}: balancer '${twice[0]}' is listed twice`);
    return null;
  }
  return names;
}
