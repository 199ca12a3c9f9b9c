/**
 * The programs symroute runs, looked up in PATH before anything changes: a
 * missing `nft` found halfway through an apply (or taken for "no table") is
 * how a destroy used to report success with the table still loaded.
 */
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";

/** The Debian package that ships each program. */
const PACKAGE: Record<string, string> = {
  ip: "iproute2",
  nft: "nftables",
  sysctl: "procps",
  grep: "grep",
  flock: "util-linux",
  conntrack: "conntrack",
  arping: "iputils-arping",
};

/** A program symroute needs is not installed. */
export class MissingToolError extends Error {
  /** nothing changes until someone installs the tool */
  readonly kind = "refused" as const;
  constructor(readonly tools: string[]) {
    super(tools.map((t) => `${t} not found: install the ${PACKAGE[t] ?? t} package`).join("\n"));
    this.name = "MissingToolError";
  }
}

/** True when `name` is an executable file somewhere in PATH. */
export function inPath(name: string, path = process.env.PATH ?? ""): boolean {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return true;
    } catch {
      // not here; try the next directory
    }
  }
  return false;
}

/** The tools every command that reads or writes the kernel needs. */
export const KERNEL_TOOLS = ["ip", "nft", "sysctl", "grep"] as const;

/** Throws MissingToolError naming every missing tool and its package. */
export function requireTools(names: readonly string[]): void {
  const missing = names.filter((n) => !inPath(n));
  if (missing.length > 0) throw new MissingToolError(missing);
}
