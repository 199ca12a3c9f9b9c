/**
 * The BIRD 2 configuration of a frontend's BGP speaker, pure: router id, BFD,
 * one BGP session per neighbour, and the VIPs that are ready, as static
 * blackhole routes exported to the neighbours only (never to the kernel: the
 * speaker's config has no kernel protocol). A VIP that is not ready is simply
 * absent, so `birdc configure` withdraws it and keeps the sessions up.
 *
 * Every string here comes from the validated config (addresses, numbers,
 * names matching OBJECT_NAME); none reaches a shell.
 */
import { parseAddress } from "../net/ip.js";
import { durationMs, type Bgp } from "../config/schema.js";

/** What the BIRD file needs of `bgp` (the schema's output). */
export interface BgpSettings {
  routerId: string;
  asn: number;
  neighbors: { address: string; asn: number; bfd: boolean }[];
  bfd: { interval: number; multiplier: number };
  /** "managed": the file is a whole bird.conf; "external": an include for the user's own bird.conf */
  speaker: "managed" | "external";
}

/** The config's `bgp` section as the renderer takes it. */
export function bgpSettingsOf(bgp: Bgp): BgpSettings {
  return { routerId: bgp.routerId, asn: bgp.asn, neighbors: bgp.neighbors, bfd: { interval: durationMs(bgp.bfd.interval) ?? 100, multiplier: bgp.bfd.multiplier }, speaker: bgp.speaker };
}

/** One VIP with the balancer it belongs to (a comment in the file). */
export interface Vip {
  address: string;
  balancer: string;
}

/** Protocol names symroute owns in the speaker; the user's own protocols must not use the prefix. */
export const PROTOCOL_PREFIX = "symroute_";
export const STATIC4 = "symroute_vips4";
export const STATIC6 = "symroute_vips6";

/** The BGP protocol's name for the neighbour at `index`. */
export function neighborProtocol(index: number): string {
  return `symroute_n${index + 1}`;
}

/** BIRD's timers in whole seconds, short: a session lost (BFD, restart) comes back within seconds, not BIRD's default minute. */
const TIMERS = ["connect delay time 1;", "connect retry time 2;", "error wait time 1, 10;", "error forget time 30;"];

/**
 * The file. `ready` are the VIPs announced now (the rest are listed as
 * comments: what this speaker would announce when they are ready).
 */
export function renderBird(bgp: BgpSettings, vips: Vip[], ready: ReadonlySet<string>, header = "written by symroute: do not edit, it is rewritten whenever a VIP's readiness changes"): string {
  const lines: string[] = [`# ${header}`];
  const managed = bgp.speaker === "managed";
  if (managed) {
    lines.push(`router id ${bgp.routerId};`, "", "protocol device symroute_device {", "  scan time 10;", "}");
  } else {
    lines.push(`# include this file from your bird.conf; your file sets the router id (${bgp.routerId} in symroute's config)`);
  }
  const v4 = vips.filter((v) => parseAddress(v.address)?.family === 4);
  const v6 = vips.filter((v) => parseAddress(v.address)?.family === 6);
  const statics = (name: string, channel: string, list: Vip[], len: number) => {
    lines.push("", `protocol static ${name} {`, `  ${channel};`);
    for (const v of list) {
      const on = ready.has(v.address);
      lines.push(`  ${on ? "" : "# not ready: "}route ${v.address}/${len} blackhole;  # ${v.balancer}`);
    }
    lines.push("}");
  };
  if (v4.length) statics(STATIC4, "ipv4", v4, 32);
  if (v6.length) statics(STATIC6, "ipv6", v6, 128);
  if (bgp.neighbors.some((n) => n.bfd)) {
    const ms = bgp.bfd.interval;
    lines.push(
      "",
      "protocol bfd symroute_bfd {",
      '  interface "*" {',
      `    min rx interval ${ms} ms;`,
      `    min tx interval ${ms} ms;`,
      `    idle tx interval ${Math.max(ms, 1000)} ms;`,
      `    multiplier ${bgp.bfd.multiplier};`,
      "  };",
      "}",
    );
  }
  bgp.neighbors.forEach((n, i) => {
    const six = parseAddress(n.address)?.family === 6;
    lines.push(
      "",
      `protocol bgp ${neighborProtocol(i)} {`,
      `  local as ${bgp.asn};`,
      `  neighbor ${n.address} as ${n.asn};`,
      `  bfd ${n.bfd ? "on" : "off"};`,
      ...TIMERS.map((t) => `  ${t}`),
      // the VIPs only, never what the neighbour sends (a frontend routes by its own tables); an IPv4 session
      // carries the IPv4 VIPs and an IPv6 session the IPv6 ones (the other family would need extended next hops)
      `  ${six ? "ipv6" : "ipv4"} {`,
      "    import none;",
      `    export where proto = "${six ? STATIC6 : STATIC4}";`,
      "    next hop self;",
      "  };",
    );
    lines.push("}");
  });
  return lines.join("\n") + "\n";
}
