/**
 * Reading a config file with a size limit, checked before any parsing: a
 * symroute.yaml of a few kilobytes is normal, 4 MiB is already a generated
 * monster, and /dev/zero, a FIFO or a file that keeps growing must neither
 * fill the memory nor hang the parser. At most limit + 1 bytes are ever read.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

/** Default limit of `--max-config-size`: 4 MiB. */
export const DEFAULT_MAX_CONFIG_SIZE = 4 * 1024 * 1024;

/** Largest limit accepted: far below V8's longest string, so a file under the limit always decodes. */
export const MAX_CONFIG_SIZE_CEILING = 256 * 1024 * 1024;

/** Flags and help of the option, shared by every command that reads a config. */
export const MAX_CONFIG_SIZE_OPTION = "--max-config-size <size>";
export const MAX_CONFIG_SIZE_HELP = "refuse a larger config file, before parsing it: bytes, or with a unit (KiB, MiB; default 4MiB)";

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  byte: 1,
  bytes: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
};

/** Parses `4194304`, `4MiB`, `512 KiB`, `1.5M` into bytes; null when it is not a size. */
export function parseSize(value: string | number): number | null {
  if (typeof value === "number") return Number.isSafeInteger(value) && value > 0 ? value : null;
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*$/i.exec(value);
  if (!m) return null;
  const unit = UNITS[m[2].toLowerCase()];
  if (unit === undefined) return null;
  const bytes = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : null;
}

/** A size as users write it: `4 MiB`, `512 KiB`, else in bytes. */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}

/** The file is over the limit; the message names the size (or "more than" for pipes and devices) and the option. */
export class ConfigTooLargeError extends Error {
  constructor(
    readonly file: string,
    readonly size: number | null,
    readonly limit: number,
  ) {
    super(`${file}: ${size === null ? `more than ${limit} bytes` : `${size} bytes`} is over the ${formatSize(limit)} limit (--max-config-size)`);
    this.name = "ConfigTooLargeError";
  }
}

/** Read chunk for files whose size fstat does not tell (pipes, devices, /proc). */
const CHUNK = 64 * 1024;

/**
 * Reads a config file as UTF-8, refusing it when it holds more than `limit`
 * bytes. A regular file is judged by its size before a byte is read; anything
 * else is read in chunks and given up after limit + 1 bytes. File system
 * errors (ENOENT, EISDIR, EACCES) are thrown as they come.
 */
export function readConfigFile(file: string, limit: number = DEFAULT_MAX_CONFIG_SIZE): string {
  const fd = openSync(file, "r");
  try {
    const stat = fstatSync(fd);
    if (stat.isFile() && stat.size > limit) throw new ConfigTooLargeError(file, stat.size, limit);
    const cap = limit + 1;
    // a regular file's size is known (it may still grow: the cap holds anyway); others grow chunk by chunk
    let buffer = Buffer.allocUnsafe(Math.min(cap, stat.isFile() && stat.size > 0 ? stat.size + 1 : CHUNK));
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (buffer.length >= cap) break;
        const grown = Buffer.allocUnsafe(Math.min(cap, buffer.length * 2));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    // only a device, a pipe or a file that grew since fstat gets here: its size is unknown
    if (length > limit) throw new ConfigTooLargeError(file, null, limit);
    return buffer.toString("utf8", 0, length);
  } finally {
    closeSync(fd);
  }
}
