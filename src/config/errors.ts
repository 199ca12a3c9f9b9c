/**
 * Config problems as data: each names its place in the file and the field, so
 * all of them can be reported at once as `file:line:col: path: message`.
 */

export type FieldPath = (string | number)[];

/** One problem found in a config file. */
export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  path: FieldPath;
  message: string;
}

/** Formats a field path as users write it: `uplinks[0].gateway`. */
export function formatPath(path: FieldPath): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? part : `.${part}`;
  }
  return out === "" ? "(top)" : out;
}

/** The line a user sees for one issue. */
export function formatIssue(issue: ConfigIssue): string {
  return `${issue.file}:${issue.line}:${issue.col}: ${formatPath(issue.path)}: ${issue.message}`;
}

/** Thrown by loaders that were asked to fail on problems; carries them all. */
export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "ConfigError";
  }
}
