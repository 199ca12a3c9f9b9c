/**
 * The size limit of a config file: refused before parsing, with its size and
 * the option named; /dev/zero and other endless inputs read no further than
 * the limit; and the command line's `--max-config-size` on validate.
 */
import { afterAll, describe, expect, it, vi } from "vitest";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigTooLargeError, DEFAULT_MAX_CONFIG_SIZE, formatSize, parseSize, readConfigFile } from "../../src/config/read.js";
import { CliError, loadConfigFile } from "../../src/cli/common.js";
import { main } from "../../src/cli/main.js";

const dir = mkdtempSync(join(tmpdir(), "symroute-size-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the command line in this process and returns its exit code and what it wrote to stderr. */
async function cli(...args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  try {
    const code = await main(["node", "symroute", ...args]);
    return { code, stderr };
  } finally {
    spy.mockRestore();
    out.mockRestore();
    process.exitCode = undefined;
  }
}

describe("config size limit", () => {
  it("parses and prints sizes as users write them", () => {
    expect(parseSize("4MiB")).toBe(4 * 1024 * 1024);
    expect(parseSize("4194304")).toBe(4194304);
    expect(parseSize("512 KiB")).toBe(512 * 1024);
    expect(parseSize("1.5M")).toBe(1.5 * 1024 * 1024);
    expect(parseSize("2MB")).toBe(2_000_000);
    expect(parseSize(100)).toBe(100);
    for (const bad of ["", "0", "-1", "4XB", "MiB", "1e9", "4 MiB extra"]) expect(parseSize(bad), bad).toBeNull();
    expect(formatSize(DEFAULT_MAX_CONFIG_SIZE)).toBe("4 MiB");
    expect(formatSize(1000)).toBe("1000 bytes");
  });

  it("refuses a larger regular file before reading it, naming its size", () => {
    const file = join(dir, "symroute.yaml");
    writeFileSync(file, "");
    truncateSync(file, 20 * 1024 * 1024);
    expect(() => readConfigFile(file)).toThrow(new ConfigTooLargeError(file, 20971520, DEFAULT_MAX_CONFIG_SIZE));
    expect(() => readConfigFile(file)).toThrow(`${file}: 20971520 bytes is over the 4 MiB limit (--max-config-size)`);
    expect(() => loadConfigFile(file)).toThrow(CliError);
  });

  it("reads /dev/zero no further than the limit, quickly and in little memory", () => {
    const rss = process.memoryUsage().rss;
    const started = Date.now();
    expect(() => readConfigFile("/dev/zero")).toThrow("/dev/zero: more than 4194304 bytes is over the 4 MiB limit (--max-config-size)");
    expect(Date.now() - started).toBeLessThan(2000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 1024 * 1024);
  });

  it("reads a file at the limit whole, and one byte more is refused", () => {
    const file = join(dir, "edge.yaml");
    writeFileSync(file, "version: 1\n#".padEnd(1000, "x"));
    expect(readConfigFile(file, 1000)).toHaveLength(1000);
    expect(() => readConfigFile(file, 999)).toThrow(`${file}: 1000 bytes is over the 999 bytes limit (--max-config-size)`);
  });

  it("validate --max-config-size: exit 1 with the size named, never a crash", async () => {
    const file = join(dir, "two-k.yaml");
    writeFileSync(file, "version: 1\n".padEnd(2048, "#"));
    expect(await cli("validate", file, "--max-config-size", "1KiB")).toEqual({ code: 1, stderr: `${file}: 2048 bytes is over the 1 KiB limit (--max-config-size)\n` });
    expect(await cli("validate", "/dev/zero")).toEqual({ code: 1, stderr: "/dev/zero: more than 4194304 bytes is over the 4 MiB limit (--max-config-size)\n" });
    expect(await cli("validate", file, "--max-config-size", "lots")).toEqual({ code: 1, stderr: "--max-config-size: 'lots' is not a size such as 4194304 or 4MiB\n" });
    expect((await cli("validate", dir)).stderr).toBe(`${dir}: cannot read: EISDIR\n`);
  });

  it("a 4 MiB file with an error in every item is reported in seconds, 100 errors then how many more", async () => {
    const item = (i: number) => `  - name: isp${i}\n    interface: e${i}\n    gateway: 10.0.${(i >> 8) & 255}.${i & 255}x\n`;
    let text = "version: 1\nuplinks:\n";
    for (let i = 0; text.length < DEFAULT_MAX_CONFIG_SIZE - 100; i++) text += item(i);
    const file = join(dir, "big.yaml");
    writeFileSync(file, text);
    const started = Date.now();
    const r = await cli("validate", file);
    // the measured time is about 1 s (README); this bound only catches a return of quadratic costs
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.code).toBe(1);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(101);
    expect(lines[0]).toBe(`${file}:5:14: uplinks[0].gateway: must be an IPv4 address such as 192.0.2.1, got "10.0.0.0x"`);
    expect(lines[100]).toMatch(new RegExp(`^${file}: and at least \\d+ more errors \\(checking stopped after \\d+\\)$`));
  });
});
