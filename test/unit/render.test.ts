/**
 * Render rules the golden files do not state on their own: every ifupdown
 * `up` has its `down` (in every golden config), the networkd form follows the
 * systemd version, and the version flag and detection parse what systemd prints.
 */
import { describe, expect, it } from "vitest";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfigText } from "../../src/config/load.js";
import { compile } from "../../src/compile/index.js";
import { noFacts, type HostFacts } from "../../src/model/facts.js";
import type { Desired } from "../../src/model/desired.js";
import { render } from "../../src/render/index.js";
import { SYSCTL_D_PATH } from "../../src/render/networkd.js";
import { parseSystemdVersionFlag, renderOptionsFor } from "../../src/render/options.js";
import { parseSystemdVersion } from "../../src/kernel/systemdVersion.js";

const golden = join(import.meta.dirname, "..", "golden");

function desiredOf(name: string): Desired {
  const dir = join(golden, name);
  const loaded = loadConfigText(readFileSync(join(dir, "config.yaml"), "utf8"), "config.yaml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  const facts: HostFacts = existsSync(join(dir, "facts.json")) ? JSON.parse(readFileSync(join(dir, "facts.json"), "utf8")) : noFacts();
  return compile(loaded.value, facts).desired;
}

/** The `# file:` sections of a networkd render. */
function sections(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let path = "";
  for (const line of text.split("\n")) {
    const m = /^# file: (\S+)$/.exec(line);
    if (m) out[(path = m[1])] = "";
    else if (path) out[path] += line + "\n";
  }
  return out;
}

describe("render ifupdown", () => {
  for (const name of readdirSync(golden).sort()) {
    it(`${name}: every stanza has a down line for each up line, and sysctls are saved before they change`, () => {
      const text = render(desiredOf(name), "ifupdown");
      for (const stanza of text.split(/\n(?=auto )/).slice(1)) {
        const ups = stanza.split("\n").filter((l) => l.startsWith("    up "));
        const downs = stanza.split("\n").filter((l) => l.startsWith("    down "));
        expect(downs.length, stanza).toBe(ups.length);
        for (const up of ups.filter((l) => / sysctl /.test(l))) {
          const saved = /> (\/run\/symroute\/ifupdown-\S+);/.exec(up)?.[1];
          expect(saved, up).toBeDefined();
          expect(downs.some((d) => d.includes(`"$(cat ${saved})" && rm ${saved}`)), up).toBe(true);
        }
      }
    });
  }
});

describe("render networkd by systemd version", () => {
  const desired = desiredOf("uplinks");
  it("252: rp_filter in sysctl.d, no IPv4ReversePathFilter=", () => {
    const files = sections(render(desired, "networkd", { systemdVersion: 252 }));
    expect(Object.values(files).join("")).not.toContain("IPv4ReversePathFilter");
    expect(files[SYSCTL_D_PATH]).toContain("net/ipv4/conf/eth1/rp_filter = 2\nnet/ipv4/conf/eth2/rp_filter = 2\n");
  });
  it("255: IPv4ReversePathFilter= in each uplink's drop-in, nothing left for sysctl.d", () => {
    const files = sections(render(desired, "networkd", { systemdVersion: 255 }));
    expect(files["/etc/systemd/network/eth1.network.d/50-symroute.conf"]).toMatch(/^\[Network\]\nIPv4ReversePathFilter=loose\n/);
    expect(files[SYSCTL_D_PATH]).toBeUndefined();
  });
  it("default is 252's form", () => {
    expect(render(desired, "networkd")).toBe(render(desired, "networkd", { systemdVersion: 252 }));
  });
  it("keys networkd has none for go to sysctl.d in every version; proxy ARP and NDP stay in the drop-ins", () => {
    const files = sections(render(desiredOf("routed-host"), "networkd", { systemdVersion: 257 }));
    expect(files[SYSCTL_D_PATH]).toContain("net/ipv4/ip_forward = 1\n");
    expect(files[SYSCTL_D_PATH]).toContain("net/ipv4/neigh/eth0.500/proxy_delay = 0\n");
    expect(files[SYSCTL_D_PATH]).not.toMatch(/proxy_arp|proxy_ndp/);
    expect(files["/etc/systemd/network/tap0.network.d/50-symroute.conf"]).toContain("IPv4ProxyARP=yes\nIPv6ProxyNDP=yes\n");
  });
});

describe("systemd version", () => {
  it("is read from --version output", () => {
    expect(parseSystemdVersion("systemd 252 (252.38-1~deb12u1)\n+PAM +AUDIT\n")).toBe(252);
    expect(parseSystemdVersion("networkctl: command not found")).toBeNull();
  });
  it("--systemd-version takes a plain number", () => {
    expect(parseSystemdVersionFlag("255")).toBe(255);
    expect(() => parseSystemdVersionFlag("25x")).toThrow(/not a systemd version/);
    expect(() => parseSystemdVersionFlag("0")).toThrow();
  });
  it("is looked up only for networkd and never with --offline", async () => {
    const host = async () => 249;
    expect(await renderOptionsFor("networkd", { systemdVersion: 256 }, host)).toEqual({ systemdVersion: 256 });
    expect(await renderOptionsFor("networkd", { offline: true }, host)).toEqual({});
    expect(await renderOptionsFor("ifupdown", {}, host)).toEqual({});
    expect(await renderOptionsFor("networkd", {}, host)).toEqual({ systemdVersion: 249 });
  });
});
