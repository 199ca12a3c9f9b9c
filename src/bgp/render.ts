/**
 * `symroute render --format bird`: the file `symroute run` writes for its
 * BGP speaker, for users who run their own. Every VIP is announced here (a
 * static render cannot know readiness): such a speaker announces even when no
 * target is healthy, which is what `symroute run` exists to avoid.
 */
import type { Config } from "../config/schema.js";
import { bgpSettingsOf, renderBird } from "./bird.js";
import { vipsOf } from "./ready.js";

export function renderBirdForUsers(config: Config): string {
  if (!config.bgp) return "# symroute: the config has no bgp section: nothing to announce\n";
  const vips = vipsOf(config);
  return renderBird(bgpSettingsOf(config.bgp), vips, new Set(vips.map((v) => v.address)), "rendered by symroute render --format bird: every VIP announced (symroute run announces a VIP only while it can be served)");
}
