/**
 * Helpers for loading renders with the distributions' own loaders in lab
 * namespaces: a lab with the `rl-` prefix, the renders of a config for one
 * host, what the lab configured on an interface (so a loader can own it), the
 * kernel state a loader must leave as it found, and ifupdown run in a namespace.
 */
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { Lab } from "../../src/lab/lab.js";
import { loadConfigText } from "../../src/config/load.js";
import { compile } from "../../src/compile/index.js";
import { readFacts } from "../../src/kernel/facts.js";
import { render, RENDER_FORMATS, type RenderFormat, type RenderOptions } from "../../src/render/index.js";
import type { Desired } from "../../src/model/desired.js";
import type { RunResult } from "../../src/kernel/runner.js";

let counter = 0;

/** A Lab whose namespaces are named `rl-...`, so a leftover is easy to trace to these tests. */
export class RenderLab extends Lab {
  override readonly prefix: string;

  constructor(tag: string) {
    super(tag);
    counter += 1;
    this.prefix = `rl-${tag}${process.pid % 100000}x${counter}`;
  }
}

/** Every render of one config, compiled against one lab host's kernel, and the state behind them. */
export type Renders = Record<RenderFormat, string> & { desired: Desired };

/** Renders a config file as `symroute render --netns HOST` would. */
export async function rendersFor(lab: Lab, host: string, configPath: string, options: RenderOptions = {}): Promise<Renders> {
  const loaded = loadConfigText(readFileSync(configPath, "utf8"), configPath);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  const { desired } = compile(loaded.value, await readFacts(lab.runner(host)));
  const out = { desired } as Renders;
  for (const f of RENDER_FORMATS) out[f] = render(desired, f, options);
  return out;
}

/** The `# file: PATH` sections of a render, path to content. */
export function fileSections(text: string): Map<string, string> {
  const sections = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const line of text.split("\n")) {
    const m = /^# file: (\S+)$/.exec(line);
    if (m) sections.set(m[1], (current = []));
    else current?.push(line);
  }
  return new Map([...sections].map(([path, lines]) => [path, lines.join("\n").trimEnd() + "\n"]));
}

/** What the lab configured on an interface: addresses and main-table routes, as `ip` words. */
export interface OwnConfig {
  dev: string;
  addresses: { family: 4 | 6; cidr: string }[];
  routes: { family: 4 | 6; words: string[] }[];
}

interface JsonAddr {
  addr_info: { family: string; local: string; prefixlen: number; scope: string }[];
}
interface JsonRoute {
  dst: string;
  gateway?: string;
  metric?: number;
  protocol?: string;
}

/** Reads the host's own configuration of the interfaces (not the kernel's automatic routes). */
export async function ownConfig(lab: Lab, host: string, devs: string[]): Promise<OwnConfig[]> {
  const out: OwnConfig[] = [];
  for (const dev of devs) {
    const addrs = JSON.parse((await lab.exec(host, ["ip", "-j", "addr", "show", "dev", dev])).stdout) as JsonAddr[];
    const addresses = addrs.flatMap((a) => a.addr_info).filter((i) => i.scope === "global").map((i) => ({ family: (i.family === "inet6" ? 6 : 4) as 4 | 6, cidr: `${i.local}/${i.prefixlen}` }));
    const routes: OwnConfig["routes"] = [];
    for (const family of [4, 6] as const) {
      const list = JSON.parse((await lab.exec(host, ["ip", "-j", `-${family}`, "route", "show", "table", "main", "dev", dev])).stdout) as JsonRoute[];
      for (const r of list.filter((x) => x.protocol !== "kernel"))
        routes.push({ family, words: [r.dst, ...(r.gateway ? ["via", r.gateway] : []), "dev", dev, ...(family === 6 && r.metric !== undefined ? ["metric", String(r.metric)] : [])] });
    }
    out.push({ dev, addresses, routes });
  }
  return out;
}

/** Takes the interfaces back to before any configuration (down, no address, no route): a loader brings them up. */
export async function unconfigure(lab: Lab, host: string, own: OwnConfig[]): Promise<void> {
  for (const o of own) {
    for (const r of o.routes) await lab.exec(host, ["ip", `-${r.family}`, "route", "del", ...r.words]);
    for (const a of o.addresses) await lab.exec(host, ["ip", `-${a.family}`, "addr", "del", a.cidr, "dev", o.dev]);
    await lab.exec(host, ["ip", "link", "set", o.dev, "down"]);
  }
}

/** What a loader must leave as it found: rules, routes of every table, nft ruleset, links, sysctls. */
export interface KernelState {
  ip: string;
  nft: string;
  sysctls: Record<string, string>;
}

/** Reads the kernel state of a host, with the given sysctls. */
export async function kernelState(lab: Lab, host: string, sysctls: string[]): Promise<KernelState> {
  const parts: string[] = [];
  for (const argv of [
    ["ip", "-4", "rule", "show"],
    ["ip", "-6", "rule", "show"],
    ["ip", "-4", "route", "show", "table", "all"],
    ["ip", "-6", "route", "show", "table", "all"],
    ["ip", "-6", "neigh", "show", "proxy"],
    ["ip", "-br", "link", "show"],
    ["ip", "-br", "addr", "show"],
  ]) parts.push(`$ ${argv.join(" ")}\n${(await lab.exec(host, argv)).stdout}`);
  const nft = (await lab.exec(host, ["nft", "-s", "list", "ruleset"])).stdout;
  const values: Record<string, string> = {};
  for (const key of sysctls) values[key] = (await lab.exec(host, ["cat", `/proc/sys/${key}`])).stdout.trim();
  return { ip: parts.join("\n"), nft, sysctls: values };
}

/** The sysctls a render touches, and rp_filter of `all`, `default` and the given interfaces. */
export function sysctlKeys(desired: Desired, devs: string[]): string[] {
  const keys = new Set(desired.sysctls.map((s) => s.key));
  for (const d of ["all", "default", ...devs]) keys.add(`net/ipv4/conf/${d}/rp_filter`);
  return [...keys].sort();
}

/** Polls until `ok` holds or the time is up, and returns the last value either way. */
export async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = await read();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 200));
    v = await read();
  }
  return v;
}

/** Why a tool cannot run here, or null when it can. */
export function missingTool(argv: string[], what: string): string | null {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
  return r.error || r.status !== 0 ? `no ${what} (${argv.join(" ")} failed; scripts/setup.sh installs it)` : null;
}

/**
 * Runs ifup or ifdown in a host with the test's own interfaces file and
 * state directory, no hook scripts (the host's /etc/network/if-*.d are not
 * the lab's business), and a private /run, so the sysctl originals the
 * rendered lines keep under /run/symroute belong to this host alone.
 */
export function ifupdown(lab: Lab, host: string, verb: "ifup" | "ifdown", devs: string[], interfacesFile: string, stateDir: string, runDir: string): Promise<RunResult> {
  const script = 'mount --bind "$1" /run && shift && exec "$@"';
  // the interfaces by name, as an administrator runs it: `-a` would also take lo up and down, and
  // `ifdown -a` (what a shutdown runs) leaves manual interfaces up
  return lab.exec(host, ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", runDir, verb, "-i", interfacesFile, "--state-dir", stateDir, "--no-scripts", ...devs], undefined, true);
}

/**
 * An interfaces file as a user merges the render into it: each rendered
 * stanza gets the interface's own configuration (as the lab had it) before
 * the rendered lines on the way up, and after them on the way down; then the
 * method (manual) takes the link down.
 */
export function mergedInterfaces(rendered: string, own: OwnConfig[]): string {
  const stanzas: { dev: string; up: string[]; down: string[] }[] = [];
  for (const line of rendered.split("\n")) {
    const iface = /^iface (\S+) inet manual$/.exec(line);
    const opt = /^ {4}(up|down) (.+)$/.exec(line);
    if (iface) stanzas.push({ dev: iface[1], up: [], down: [] });
    else if (opt && stanzas.length) stanzas[stanzas.length - 1][opt[1] as "up" | "down"].push(opt[2]);
    else if (line !== "" && !line.startsWith("#") && !line.startsWith("auto ")) throw new Error(`unexpected line in the ifupdown render: ${line}`);
  }
  const out = ["# written by test/kernel/renderLoad.test.ts: the lab's own configuration with symroute's lines merged in"];
  for (const s of stanzas) {
    const o = own.find((x) => x.dev === s.dev) ?? { dev: s.dev, addresses: [], routes: [] };
    const ownUp = [...o.addresses.map((a) => `ip -${a.family} addr add ${a.cidr} dev ${o.dev}${a.family === 6 ? " nodad" : ""}`), ...o.routes.map((r) => `ip -${r.family} route add ${r.words.join(" ")}`)];
    const ownDown = [...o.addresses.map((a) => `ip -${a.family} addr del ${a.cidr} dev ${o.dev}`), ...o.routes.map((r) => `ip -${r.family} route del ${r.words.join(" ")}`)].reverse();
    out.push("", `auto ${s.dev}`, `iface ${s.dev} inet manual`, ...[...ownUp, ...s.up].map((l) => `    up ${l}`), ...[...s.down, ...ownDown].map((l) => `    down ${l}`));
  }
  return out.join("\n") + "\n";
}

/** Lines one text has more of than the other (as multisets: order and repeats kept apart). */
export function lineDiff(before: string, after: string): { added: string[]; removed: string[] } {
  const count = new Map<string, number>();
  for (const l of before.split("\n")) count.set(l, (count.get(l) ?? 0) + 1);
  const added: string[] = [];
  for (const l of after.split("\n")) {
    const n = count.get(l) ?? 0;
    if (n > 0) count.set(l, n - 1);
    else added.push(l);
  }
  const removed = [...count].flatMap(([l, n]) => Array<string>(n).fill(l));
  return { added, removed };
}
