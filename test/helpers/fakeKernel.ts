/**
 * Turns a desired state into the LiveState the kernel would report after an
 * apply, the way `ip -j` prints it (canonical addresses, protocol tag), so the
 * pure plan can be tested for "apply, then plan is empty".
 */
import type { Desired } from "../../src/model/desired.js";
import type { LiveState } from "../../src/plan/live.js";
import { SYMROUTE_PROTO } from "../../src/model/ownership.js";

export function liveAfterApply(desired: Desired, extra: Partial<LiveState> = {}): LiveState {
  return {
    rules: [...desired.rules.map((value) => ({ value, protocol: SYMROUTE_PROTO })), ...(extra.rules ?? [])],
    routes: [...desired.routes.map((value) => ({ value, protocol: SYMROUTE_PROTO })), ...(extra.routes ?? [])],
    nft: desired.nft ? [{ table: { family: "inet", name: "symroute" } }] : null,
    nftArp: desired.nftArp ? [{ table: { family: "arp", name: "symroute" } }] : null,
    extras: [...(desired.extras ?? [])],
    sysctls: Object.fromEntries(desired.sysctls.map((s) => [s.key, s.value])),
    interfaces: desired.links.map((l) => l.ifname).concat(extra.interfaces ?? []),
  };
}
