/**
 * Renders load in the real loaders (issue 9, part 4). Each render of three
 * seeds' configs is loaded into lab namespaces by the distribution's own tool:
 * `nft -f`, `ip -4 -batch` / `ip -6 -batch`, `iptables-restore` /
 * `ip6tables-restore`, ifupdown's `ifup`/`ifdown`, and systemd-networkd with
 * the rendered drop-ins and sysctl.d (the form for 252 everywhere, the form for
 * 255 where networkd is 255 or later). After the up half real TCP connections
 * must answer (with the uplinks' rp_filter strict first, as distributions ship
 * it, so a render that leaves it strict fails) and every sysctl must hold the
 * rendered value; after the down half rules, routes of every table, neighbour
 * proxies, links, addresses, the nft ruleset and the sysctls must be as before,
 * byte for byte. A loader this machine lacks is skipped with the reason, never
 * counted as passing.
 */
import { describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Lab } from "../../src/lab/lab.js";
import { buildReturnPath, RETURN_PATH } from "../../src/lab/returnPath.js";
import { buildUplinks, UPLINKS } from "../../src/lab/uplinks.js";
import { buildRoutedNetwork, hostConfig, ROUTED } from "../../src/lab/routedNetwork.js";
import { tcpEcho, type ConnectResult } from "../../src/lab/traffic.js";
import { examplePath } from "../../src/lab/examples.js";
import type { Desired } from "../../src/model/desired.js";
import { NETWORKD_RP_FILTER_VERSION, SYSCTL_D_PATH } from "../../src/render/networkd.js";
import { parseSystemdVersion } from "../../src/kernel/systemdVersion.js";
import { configFile, isRoot } from "../helpers/kernel.js";
import {
  eventually, fileSections, ifupdown, kernelState, lineDiff, mergedInterfaces, missingTool, ownConfig, RenderLab, rendersFor, sysctlKeys, unconfigure,
  type KernelState, type OwnConfig, type Renders,
} from "../helpers/renderLoad.js";
import { baseNetworkFile, NetworkdInHost, NETWORKD, SYSTEMD_SYSCTL } from "../helpers/renderNetworkd.js";
import { skipForKernel } from "../helpers/skips.js";

/** A seed's topology, its config, and the connections that prove replies find their way. */
interface Scenario {
  name: string;
  tag: string;
  config: () => string;
  host: string;
  build: (lab: Lab) => Promise<void>;
  /** interfaces whose rp_filter is strict before loading, as Debian and RHEL ship it */
  uplinks: string[];
  probes: (lab: Lab) => [string, Promise<ConnectResult>][];
}

const [vm1a, vm1b] = ROUTED.instances;

const SCENARIOS: Scenario[] = [
  {
    name: "return-path (seed 000)",
    tag: "rp",
    config: () => examplePath("return-path.yaml"),
    host: "node",
    build: buildReturnPath,
    uplinks: ["eth1", "eth2"],
    probes: (lab) => [
      ["client1 -> svc1 IPv4 (source rule)", tcpEcho(lab, "client1", RETURN_PATH.service1.v4, RETURN_PATH.port)],
      ["client1 -> svc1 IPv6 (source rule)", tcpEcho(lab, "client1", RETURN_PATH.service1.v6, RETURN_PATH.port)],
      ["client2 -> svc2 IPv4 (mark)", tcpEcho(lab, "client2", RETURN_PATH.service2.v4, RETURN_PATH.port)],
      ["client2 -> svc2 IPv6 (mark)", tcpEcho(lab, "client2", RETURN_PATH.service2.v6, RETURN_PATH.port)],
    ],
  },
  {
    name: "uplinks (seed 004)",
    tag: "up",
    config: () => examplePath("uplinks.yaml"),
    host: "host",
    build: buildUplinks,
    uplinks: ["eth1", "eth2"],
    probes: (lab) => [
      ["client1 -> host by isp1 IPv4", tcpEcho(lab, "client1", UPLINKS.host.isp1.v4, UPLINKS.port)],
      ["client1 -> host by isp1 IPv6", tcpEcho(lab, "client1", UPLINKS.host.isp1.v6, UPLINKS.port)],
      ["client2 -> host by isp2 IPv4", tcpEcho(lab, "client2", UPLINKS.host.isp2.v4, UPLINKS.port)],
      ["client2 -> host by isp2 IPv6", tcpEcho(lab, "client2", UPLINKS.host.isp2.v6, UPLINKS.port)],
      ["client2 -> LAN by isp2 IPv4 (forwarded)", tcpEcho(lab, "client2", UPLINKS.host.isp2.v4, UPLINKS.forwardedPort)],
      ["client2 -> LAN by isp2 IPv6 (forwarded)", tcpEcho(lab, "client2", UPLINKS.host.isp2.v6, UPLINKS.forwardedPort)],
      ["client1 -> LAN by isp1 IPv4 (forwarded)", tcpEcho(lab, "client1", UPLINKS.host.isp1.v4, UPLINKS.forwardedPort)],
    ],
  },
  {
    // one host's render carries forwarding, proxy ARP and NDP, neighbour proxies and proxy_delay:
    // its two instances reach each other only through it
    name: "routed network, host role (seed 001)",
    tag: "rn",
    config: () => configFile(hostConfig(ROUTED.instances.filter((i) => i.host === "h1"))),
    host: "h1",
    build: buildRoutedNetwork,
    uplinks: [],
    probes: (lab) => [
      [`${vm1a.name} -> ${vm1b.name} IPv4 (proxy ARP)`, tcpEcho(lab, vm1a.name, vm1b.v4, ROUTED.port)],
      [`${vm1a.name} -> ${vm1b.name} IPv6 (proxy NDP)`, tcpEcho(lab, vm1a.name, vm1b.v6, ROUTED.port)],
      [`${vm1b.name} -> ${vm1a.name} IPv4 (proxy ARP)`, tcpEcho(lab, vm1b.name, vm1a.v4, ROUTED.port)],
    ],
  },
];

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Lines that differ between two states: removed ones always count, added ones unless they match `allowed`. */
function unexplained(diff: { added: string[]; removed: string[] }, allowed: RegExp[]): string[] {
  return [...diff.removed.map((l) => `- ${l}`), ...diff.added.filter((l) => !allowed.some((r) => r.test(l))).map((l) => `+ ${l}`)];
}

/** Forgets every neighbour entry in the lab's namespaces (its own prefix only). */
function flushNeighbours(lab: Lab): void {
  for (const ns of spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.split("\n").map((l) => l.split(" ")[0]))
    if (ns.startsWith(`${lab.prefix}-`)) spawnSync("ip", ["-n", ns, "neigh", "flush", "all"]);
}

async function probe(sc: Scenario, lab: Lab): Promise<string[]> {
  const list = sc.probes(lab);
  const results = await Promise.all(list.map(([, p]) => p));
  return list.map(([label], i) => `${label}: ${results[i].ok ? "answers" : "FAILS"}`);
}

/** What one loader does with one host's renders. */
interface Loaded {
  /** runs before the "before" state is read: the loader takes over what it manages */
  prepare(): Promise<void>;
  up(): Promise<void>;
  down(): Promise<void>;
  /** the state after down, once it has settled (networkd converges asynchronously) */
  settled(before: KernelState, keys: string[]): Promise<KernelState>;
  /** stops whatever the loader left running, also after a failure */
  cleanup(): Promise<void>;
}

interface Loader {
  name: string;
  /** why it cannot run on this machine, or null */
  missing(): string | null;
  /** the systemd version the networkd render is made for */
  systemdVersion?: number;
  /** why these renders cannot be loaded in this lab, or null */
  unsupported?(renders: Renders): string | null;
  /** the sysctls expected after the down half, when the loader cannot put them all back (default: as before) */
  sysctlsAfterDown?(before: Record<string, string>, desired: Desired): Record<string, string>;
  /** lines of rules, routes, proxies and links the down half is known to leave behind (default: none) */
  residue?(renders: Renders): RegExp[];
  /** what the down half promises, for the test's name */
  downClaim?: string;
  make(lab: Lab, host: string, renders: Renders, before: () => KernelState): Loaded;
}

/** Runs a command that must succeed and print nothing on stderr. */
const must = async (lab: Lab, host: string, argv: string[], stdin?: string) => {
  const r = await lab.exec(host, argv, stdin, true);
  if (r.code !== 0 || r.stderr.trim() !== "") throw new Error(`${argv.join(" ")} (exit ${r.code}): ${r.stderr.trim()}`);
  return r;
};

/** `nft -f` of the nft render (marks, ARP rewrite), and `nft delete table` of each of its tables. */
const nftTables = (text: string) => [...text.matchAll(/^table (\S+) (\S+) \{/gm)].map((m) => [m[1], m[2]] as const);
async function nftUp(lab: Lab, host: string, renders: Renders): Promise<void> {
  if (nftTables(renders.nft).length) await must(lab, host, ["nft", "-f", "-"], renders.nft);
}
async function nftDown(lab: Lab, host: string, renders: Renders): Promise<void> {
  for (const [family, name] of nftTables(renders.nft)) await must(lab, host, ["nft", "delete", "table", family, name]);
}

/** nft tables present now, as `family name`. */
async function nftTableNames(lab: Lab, host: string): Promise<Set<string>> {
  return new Set((await lab.exec(host, ["nft", "list", "tables"])).stdout.split("\n").filter(Boolean).map((l) => l.replace(/^table /, "")));
}

/**
 * The x_tables tools on nftables (iptables-nft, arptables-nft) create a table
 * with empty built-in chains on first use and never remove it. When the down
 * half has emptied it, drop it, so the rest of the ruleset can be compared;
 * a rule left in it fails the test.
 */
async function dropEmptyXtables(lab: Lab, host: string, before: Set<string>): Promise<void> {
  for (const t of await nftTableNames(lab, host)) {
    if (before.has(t) || !/^(ip|ip6|arp) (mangle|filter|nat)$/.test(t)) continue;
    const [family, name] = t.split(" ");
    const listed = JSON.parse((await must(lab, host, ["nft", "-j", "list", "table", family, name])).stdout) as { nftables: { rule?: unknown }[] };
    expect(listed.nftables.filter((o) => o.rule), `rules left in ${t} after the down half`).toEqual([]);
    await must(lab, host, ["nft", "delete", "table", family, name]);
  }
}

/** The ip render split the way `ip -batch` needs it: one batch per family (no per-line -4/-6), and the sysctls. */
function ipBatches(text: string): { v4: string[]; v6: string[]; sysctls: [string, string][] } {
  const out = { v4: [] as string[], v6: [] as string[], sysctls: [] as [string, string][] };
  for (const line of text.split("\n").filter(Boolean)) {
    const fam = /^ip -([46]) (.+)$/.exec(line);
    const sys = /^sysctl -w ([^=]+)=(.*)$/.exec(line);
    if (fam) out[fam[1] === "4" ? "v4" : "v6"].push(fam[2]);
    else if (sys) out.sysctls.push([sys[1], sys[2]]);
    else throw new Error(`no ip -batch form for: ${line}`);
  }
  return out;
}

/** The batch line that takes one line away again. */
function ipUndo(line: string): string {
  return line.replace(/^(route|rule|neigh|addr) (replace|add) /, "$1 del ").replace(/ nodad$/, "");
}

async function ipUp(lab: Lab, host: string, renders: Renders): Promise<void> {
  const b = ipBatches(renders.ip);
  if (b.v4.length) await must(lab, host, ["ip", "-4", "-batch", "-"], b.v4.join("\n") + "\n");
  if (b.v6.length) await must(lab, host, ["ip", "-6", "-batch", "-"], b.v6.join("\n") + "\n");
  for (const [k, v] of b.sysctls) await must(lab, host, ["sysctl", "-q", "-w", `${k}=${v}`]);
}

/** The ip render has no down half: a person undoes it line by line and puts back the sysctls they noted. */
async function ipDown(lab: Lab, host: string, renders: Renders, before: KernelState): Promise<void> {
  const b = ipBatches(renders.ip);
  if (b.v6.length) await must(lab, host, ["ip", "-6", "-batch", "-"], b.v6.map(ipUndo).reverse().join("\n") + "\n");
  if (b.v4.length) await must(lab, host, ["ip", "-4", "-batch", "-"], b.v4.map(ipUndo).reverse().join("\n") + "\n");
  for (const [k] of [...b.sysctls].reverse()) await must(lab, host, ["sysctl", "-q", "-w", `${k}=${before.sysctls[k]}`]);
}

/** The iptables render's two halves, for iptables-restore and ip6tables-restore. */
function iptablesSections(text: string): { tool: "iptables" | "ip6tables"; body: string }[] {
  const out: { tool: "iptables" | "ip6tables"; body: string }[] = [];
  for (const line of text.split("\n")) {
    const head = /^# (ip6?tables)-restore --noflush$/.exec(line);
    if (head) out.push({ tool: head[1] as "iptables" | "ip6tables", body: "" });
    else if (out.length && line && !line.startsWith("#")) out[out.length - 1].body += line + "\n";
  }
  return out;
}

/** Takes an iptables-restore section away: the jumps from built-in chains, then its own chains. */
async function iptablesDown(lab: Lab, host: string, s: { tool: string; body: string }): Promise<void> {
  const table = /^\*(\S+)$/m.exec(s.body)![1];
  for (const line of s.body.split("\n")) {
    const jump = /^-A (PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) (.*)$/.exec(line);
    if (jump) await must(lab, host, [s.tool, "-t", table, "-D", jump[1], ...jump[2].split(" ")]);
  }
  const chains = [...s.body.matchAll(/^:(\S+) /gm)].map((m) => m[1]);
  for (const c of chains) await must(lab, host, [s.tool, "-t", table, "-F", c]);
  for (const c of chains) await must(lab, host, [s.tool, "-t", table, "-X", c]);
}

const nothing = async () => undefined;
const readAgain = (lab: Lab, host: string) => (_: KernelState, keys: string[]) => kernelState(lab, host, keys);

const ipLoader: Loader = {
  name: "nft -f and ip -4/-6 -batch",
  missing: () => missingTool(["nft", "--version"], "nft"),
  make: (lab, host, renders, before) => ({
    prepare: nothing,
    up: async () => {
      await nftUp(lab, host, renders);
      await ipUp(lab, host, renders);
    },
    down: async () => {
      await ipDown(lab, host, renders, before());
      await nftDown(lab, host, renders);
    },
    settled: readAgain(lab, host),
    cleanup: nothing,
  }),
};

const iptablesLoader: Loader = {
  name: "iptables-restore / ip6tables-restore and ip -batch",
  missing: () => missingTool(["iptables-restore", "--version"], "iptables-restore") ?? missingTool(["ip6tables-restore", "--version"], "ip6tables-restore"),
  make: (lab, host, renders, before) => {
    let tables = new Set<string>();
    return {
      prepare: async () => {
        tables = await nftTableNames(lab, host);
      },
      up: async () => {
        for (const s of iptablesSections(renders.iptables)) await must(lab, host, [`${s.tool}-restore`, "--noflush"], s.body);
        await ipUp(lab, host, renders);
      },
      down: async () => {
        await ipDown(lab, host, renders, before());
        for (const s of iptablesSections(renders.iptables)) await iptablesDown(lab, host, s);
        await dropEmptyXtables(lab, host, tables);
      },
      settled: readAgain(lab, host),
      cleanup: nothing,
    };
  },
};

const ifupdownLoader: Loader = {
  name: "ifupdown (ifup / ifdown of the rendered interfaces)",
  missing: () => missingTool(["ifup", "--version"], "ifupdown") ?? missingTool(["unshare", "--version"], "unshare"),
  unsupported: (renders) => {
    const dotted = [...renders.ifupdown.matchAll(/^auto (\S+\.\d+)$/gm)].map((m) => m[1]);
    // ifup creates NAME.ID as a VLAN and ifdown deletes it (`ip link del`); this kernel has no VLAN
    // links, so the lab's eth0.500 is a veth, which ifdown would delete with its peer
    return dotted.length ? `ifupdown owns ${dotted.join(", ")} as a VLAN, and the lab's is a veth (no VLAN in this kernel)` : null;
  },
  make: (lab, host, renders) => {
    const dir = mkdtempSync(join(tmpdir(), "rl-ifupdown-"));
    const run = join(dir, "run");
    const state = join(dir, "state");
    const file = join(dir, "interfaces");
    // the ifupdown render's own header says when the nft render must be loaded too (marks, balancers)
    const withNft = /render --format nft/.test(renders.ifupdown);
    const devs = [...renders.ifupdown.matchAll(/^auto (\S+)$/gm)].map((m) => m[1]);
    let own: OwnConfig[] = [];
    let tables = new Set<string>();
    return {
      prepare: async () => {
        mkdirSync(run);
        mkdirSync(state);
        own = await ownConfig(lab, host, devs);
        writeFileSync(file, mergedInterfaces(renders.ifupdown, own));
        await unconfigure(lab, host, own);
        tables = await nftTableNames(lab, host);
      },
      up: async () => {
        if (withNft) await nftUp(lab, host, renders);
        const r = await ifupdown(lab, host, "ifup", devs, file, state, run);
        expect(`exit ${r.code}\n${r.stderr}${r.stdout}`.trim(), "ifup").toBe("exit 0");
      },
      down: async () => {
        const r = await ifupdown(lab, host, "ifdown", devs, file, state, run);
        // ifdown exits 0 even when a down line fails: what it printed is the verdict
        expect(`exit ${r.code}\n${r.stderr}${r.stdout}`.trim(), "ifdown").toBe("exit 0");
        expect(readdirSync(join(run, "symroute")), "sysctl originals left under /run/symroute").toEqual([]);
        if (withNft) await nftDown(lab, host, renders);
        await dropEmptyXtables(lab, host, tables);
      },
      settled: readAgain(lab, host),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
};

/**
 * What networkd leaves after its drop-ins are gone: it does not delete the
 * neighbour proxies of IPv6ProxyNDPAddress= when the key goes, and IPv6
 * forwarding left on by sysctl.d keeps the kernel's subnet-router anycast routes.
 */
function networkdResidue(renders: Renders): RegExp[] {
  const out: RegExp[] = [];
  for (const [path, text] of fileSections(renders.networkd)) {
    const dev = /^\/etc\/systemd\/network\/(.+)\.network\.d\//.exec(path)?.[1];
    for (const m of text.matchAll(/^IPv6ProxyNDPAddress=(\S+)$/gm)) if (dev) out.push(new RegExp(`^${escape(m[1])} dev ${escape(dev)} proxy\\s*$`));
    if (/^net\/ipv6\/conf\/all\/forwarding = 1$/m.test(text)) out.push(/^anycast \S+ dev \S+ table local proto kernel metric 0 pref medium$/);
  }
  return out;
}

/**
 * networkd loading the render made for one systemd version: 252's form (rp_filter
 * in sysctl.d) runs on any networkd; 255's (IPv4ReversePathFilter=) only where
 * networkd is 255 or later. The interfaces are networkd's, as on a host that
 * uses it: it configures them from .network files written after the lab's
 * settings, the render's drop-ins extend those files.
 */
function networkdLoader(systemdVersion: number): Loader {
  const form = systemdVersion >= NETWORKD_RP_FILTER_VERSION ? "IPv4ReversePathFilter=" : "rp_filter in sysctl.d";
  return {
    name: `systemd-networkd, the render for ${systemdVersion} (${form})`,
    systemdVersion,
    missing: () => {
      const v = spawnSync(NETWORKD, ["--version"], { encoding: "utf8" });
      const installed = v.status === 0 ? parseSystemdVersion(v.stdout) : null;
      if (installed === null) return `no networkd (${NETWORKD}; scripts/setup.sh installs systemd)`;
      if (installed < systemdVersion) return `networkd ${installed} here, this form needs ${systemdVersion}`;
      return missingTool(["dbus-daemon", "--version"], "dbus-daemon") ?? missingTool([SYSTEMD_SYSCTL, "--version"], "systemd-sysctl") ?? missingTool(["nsenter", "--version"], "nsenter");
    },
    // sysctl.d has no down half and networkd puts nothing back when a key leaves its files, except
    // proxy_ndp, which it writes on every reconfiguration (0 unless IPv6ProxyNDP= or addresses ask for it)
    sysctlsAfterDown: (before, desired) => ({ ...before, ...Object.fromEntries(desired.sysctls.filter((s) => !s.key.endsWith("/proxy_ndp")).map((s) => [s.key, s.value])) }),
    residue: networkdResidue,
    downClaim: "rules, routes and nft as before after the down half; sysctls, NDP proxies kept until reboot",
    make: (lab, host, renders) => {
      const nd = new NetworkdInHost(lab, host);
      const files = fileSections(renders.networkd);
      const dropIns = [...files.keys()].filter((p) => p.startsWith("/etc/systemd/network/"));
      const ruleCount = (renders.networkd.match(/^\[RoutingPolicyRule\]$/gm) ?? []).length;
      const staticRules = async () => {
        const rules = [4, 6].map(async (f) => (await lab.exec(host, ["ip", `-${f}`, "rule", "show"])).stdout);
        return (await Promise.all(rules)).join("").split("\n").filter((l) => / proto static/.test(l)).length;
      };
      const configured = (s: Record<string, string>) => Object.keys(s).length > 0 && Object.values(s).every((x) => x === "configured");
      const converged = async (ok: () => Promise<boolean>) => {
        const last = await eventually(async () => ({ setup: await nd.setupStates(), ok: await ok() }), (s) => s.ok && configured(s.setup), 15_000);
        if (!last.ok || !configured(last.setup)) throw new Error(`networkd did not converge: ${JSON.stringify(last.setup)}\n${nd.log().slice(-3000)}`);
      };
      let baseRules = 0;
      return {
        prepare: async () => {
          const devs = dropIns.map((p) => /\/([^/]+)\.network\.d\//.exec(p)![1]);
          const own = await ownConfig(lab, host, devs);
          // networkd configures the interfaces itself, as at boot (it refuses to adopt some of the lab's addresses)
          await unconfigure(lab, host, own);
          const base = new Map<string, string>();
          for (const o of own) {
            const routes = o.routes.map((r) => ({ dst: r.words[0], gateway: r.words[1] === "via" ? r.words[2] : undefined }));
            base.set(`/etc/systemd/network/${o.dev}.network`, baseNetworkFile(o.dev, o.addresses.map((a) => a.cidr), routes));
          }
          await nd.start(base);
          await converged(async () => true);
          baseRules = await staticRules();
        },
        up: async () => {
          // a boot applies sysctl.d before networkd starts; networkd never applies it itself
          const sysctlD = files.get(SYSCTL_D_PATH);
          if (sysctlD !== undefined) {
            await nd.writeFile(SYSCTL_D_PATH, sysctlD);
            const r = await nd.exec([SYSTEMD_SYSCTL, SYSCTL_D_PATH]);
            expect(`exit ${r.code} ${r.stderr}`.trim(), "systemd-sysctl").toBe("exit 0");
          }
          for (const p of dropIns) await nd.writeFile(p, files.get(p)!);
          await nftUp(lab, host, renders);
          const r = await nd.reload();
          expect(`exit ${r.code} ${r.stderr}`.trim(), "networkctl reload").toBe("exit 0");
          await converged(async () => (await staticRules()) === baseRules + ruleCount);
          // networkd warns about keys it does not know and ignores them (252: IPv4ReversePathFilter=)
          expect(nd.log().split("\n").filter((l) => /50-symroute\.conf/.test(l)), "networkd's complaints about the drop-ins").toEqual([]);
        },
        down: async () => {
          for (const p of dropIns) await nd.removeFile(p);
          if (files.has(SYSCTL_D_PATH)) await nd.removeFile(SYSCTL_D_PATH);
          const r = await nd.reload();
          expect(`exit ${r.code} ${r.stderr}`.trim(), "networkctl reload").toBe("exit 0");
          await nftDown(lab, host, renders);
        },
        settled: (before, keys) => {
          const allowed = networkdResidue(renders);
          return eventually(() => kernelState(lab, host, keys), (s) => s.nft === before.nft && unexplained(lineDiff(before.ip, s.ip), allowed).length === 0);
        },
        cleanup: () => nd.stop(),
      };
    },
  };
}

/** The systemd-networkd installed here (null: none): the 255 form is loaded only where networkd 255 or later runs. */
const installedNetworkd = (() => {
  const v = spawnSync(NETWORKD, ["--version"], { encoding: "utf8" });
  return v.status === 0 ? parseSystemdVersion(v.stdout) : null;
})();
// Debian 12 ships networkd 252: the 255 form (IPv4ReversePathFilter=) cannot be loaded here, and a test that
// always skips is no test; its render is checked in test/unit/render.test.ts
const LOADERS: Loader[] = [ipLoader, iptablesLoader, ifupdownLoader, networkdLoader(252), ...((installedNetworkd ?? 0) >= 255 ? [networkdLoader(255)] : [])];
if (isRoot && (installedNetworkd ?? 0) < 255) console.log(`not run: the networkd 255 render loaded (networkd ${installedNetworkd ?? "absent"} here)`);

for (const sc of SCENARIOS) {
  describe.skipIf(!isRoot)(`${sc.name}: renders loaded by the distributions' own tools`, () => {
    for (const loader of LOADERS) {
      it(`${loader.name}: TCP answers after the up half, ${loader.downClaim ?? "the kernel is as before after the down half"}`, async (ctx) => {
        const reason = loader.missing();
        if (reason) ctx.skip(reason);
        const lab = new RenderLab(sc.tag);
        let loaded: Loaded | null = null;
        try {
          await sc.build(lab);
          for (const dev of sc.uplinks) await lab.exec(sc.host, ["sysctl", "-q", "-w", `net/ipv4/conf/${dev}/rp_filter=1`]);
          const renders = await rendersFor(lab, sc.host, sc.config(), { systemdVersion: loader.systemdVersion });
          const unsupported = loader.unsupported?.(renders);
          if (unsupported) return skipForKernel(ctx, unsupported);
          const keys = sysctlKeys(renders.desired, sc.uplinks);
          let before: KernelState | null = null;
          loaded = loader.make(lab, sc.host, renders, () => before!);
          await loaded.prepare();
          before = await kernelState(lab, sc.host, keys);
          const failing = await probe(sc, lab);
          expect(failing.filter((p) => p.endsWith("FAILS")).length, "connections failing before").toBeGreaterThan(0);
          // the failed attempts left FAILED neighbour entries that would drop the first packets after the up half
          flushNeighbours(lab);

          await loaded.up();
          const answers = await probe(sc, lab);
          expect(answers).toEqual(answers.map((p) => p.replace(/FAILS$/, "answers")));
          const values = (await kernelState(lab, sc.host, keys)).sysctls;
          expect(renders.desired.sysctls.map((s) => `${s.key}=${values[s.key]}`)).toEqual(renders.desired.sysctls.map((s) => `${s.key}=${s.value}`));

          await loaded.down();
          const after = await loaded.settled(before, keys);
          const residue = loader.residue?.(renders) ?? [];
          if (residue.length === 0) expect(after.ip).toBe(before.ip);
          else expect(unexplained(lineDiff(before.ip, after.ip), residue), "left by the down half beyond what the loader is known to leave").toEqual([]);
          expect(after.nft).toBe(before.nft);
          expect(after.sysctls).toEqual(loader.sysctlsAfterDown?.(before.sysctls, renders.desired) ?? before.sysctls);
          expect(await probe(sc, lab)).toEqual(failing);
        } finally {
          await loaded?.cleanup();
          await lab.teardown();
        }
      }, 120_000);
    }
  });
}
