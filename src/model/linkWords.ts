/**
 * The `ip` commands that create symroute's links (VRF and veth legs), shared by
 * apply and `render --format ip`.
 */
import type { Link } from "./link.js";

/** Commands (as words after `ip`) that create the links, in order. */
export function linkCreateCommands(links: Link[]): string[][] {
  const out: string[][] = [];
  for (const l of links) {
    if (l.kind === "vrf") {
      out.push(["link", "add", l.ifname, "type", "vrf", "table", String(l.table)], ["link", "set", l.ifname, "up"]);
      for (const m of l.members) out.push(["link", "set", m, "master", l.ifname]);
    } else {
      out.push(["link", "add", l.ifname, "type", "veth", "peer", "name", l.peer]);
      if (l.peerMaster) out.push(["link", "set", l.peer, "master", l.peerMaster]);
      out.push(["addr", "add", l.address, "dev", l.ifname], ["addr", "add", l.peerAddress, "dev", l.peer]);
      out.push(["link", "set", l.ifname, "up"], ["link", "set", l.peer, "up"]);
    }
  }
  return out;
}

/** Commands that remove the links again (members are released by deleting the VRF). */
export function linkDeleteCommands(links: Link[]): string[][] {
  return [...links].reverse().map((l) => ["link", "del", l.ifname]);
}
