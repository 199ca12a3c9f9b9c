/**
 * One entry for every render format.
 */
import type { Desired } from "../model/desired.js";
import { tableText } from "../model/nftTable.js";
import { renderIp } from "./ip.js";
import { renderIptables } from "./iptables.js";
import { renderNetworkd } from "./networkd.js";
import { renderIfupdown } from "./ifupdown.js";

export const RENDER_FORMATS = ["nft", "ip", "iptables", "networkd", "ifupdown"] as const;
export type RenderFormat = (typeof RENDER_FORMATS)[number];

/** The desired state in a distribution's own format. */
export function render(desired: Desired, format: RenderFormat): string {
  switch (format) {
    case "nft": {
      const tables = [desired.nft, desired.nftArp].filter((t): t is NonNullable<typeof t> => !!t);
      return tables.length ? tables.map(tableText).join("\n") : "# symroute needs no nftables table for this config\n";
    }
    case "ip":
      return renderIp(desired);
    case "iptables":
      return renderIptables(desired);
    case "networkd":
      return renderNetworkd(desired);
    case "ifupdown":
      return renderIfupdown(desired);
  }
}
