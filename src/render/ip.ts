/**
 * `render --format ip`: the desired state as the iproute2 and sysctl commands
 * a person would type, for hosts that load routing with their own scripts.
 */
import type { Desired } from "../model/desired.js";
import { routeWords, ruleWords } from "../model/ipWords.js";
import { linkCreateCommands } from "../model/linkWords.js";
import { extraWords } from "../model/extra.js";

/** One command per line, routes before the rules that use them. */
export function renderIp(desired: Desired): string {
  const lines: string[] = linkCreateCommands(desired.links).map((w) => `ip ${w.join(" ")}`);
  for (const e of desired.extras ?? []) lines.push(`ip -${e.family} ${extraWords(e, "add").join(" ")}`);
  for (const r of desired.routes) lines.push(`ip -${r.family} route replace ${routeWords(r).join(" ")}`);
  for (const r of desired.rules) lines.push(`ip -${r.family} rule add ${ruleWords(r).join(" ")}`);
  for (const s of desired.sysctls) lines.push(`sysctl -w ${s.key}=${s.value}`);
  return lines.join("\n") + "\n";
}
