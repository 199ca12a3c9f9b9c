/**
 * One entry for every render format.
 */
import type { Desired } from "../model/desired.js";
import { tableText } from "../model/nftTable.js";
import { renderIp } from "./ip.js";
import { renderIptables } from "./iptables.js";
import { renderNetworkd } from "./networkd.js";
import { renderIfupdown } from "./ifupdown.js";

/** The formats `render --format` accepts. */
export const RENDER_FORMATS = ["nft", "ip", "iptables", "networkd", "ifupdown"] as const;
/** One of RENDER_FORMATS. */
export type RenderFormat = (typeof RENDER_FORMATS)[number];

/**
 * The systemd version a networkd render aims at when none is given or found:
 * Debian 12's. Its form (rp_filter in sysctl.d) also loads on every later version.
 */
export const DEFAULT_SYSTEMD_VERSION = 252;

/** What a render may depend on besides the desired state. */
export interface RenderOptions {
  /** systemd version of the target host, for `networkd` (default DEFAULT_SYSTEMD_VERSION) */
  systemdVersion?: number;
}

/** The desired state in a distribution's own format. */
export function render(desired: Desired, format: RenderFormat, options: RenderOptions = {}): string {
  switch (format) {
    case "nft": {
      const tables = [desired.nft, desired.nftArp, desired.nftNetdev].filter((t): t is NonNullable<typeof t> => !!t);
      return tables.length ? tables.map(tableText).join("\n") : "# symroute needs no nftables table for this config\n";
    }
    case "ip":
      return renderIp(desired);
    case "iptables":
      return renderIptables(desired);
    case "networkd":
      return renderNetworkd(desired, options.systemdVersion ?? DEFAULT_SYSTEMD_VERSION);
    case "ifupdown":
      return renderIfupdown(desired);
  }
}
