/**
 * Uplink health under `symroute run`: each uplink with a `check` probed from
 * its own addresses (its config's, else its interface's, followed as they
 * change), so probes leave by its table. Uplinks found down are an input to
 * compile (outbound sharing leaves them out).
 */
import type { ResolvedConfig } from "../config/resolved.js";
import { checkSettings } from "./health.js";
import { readIpState } from "../engine/index.js";
import { ProcessRunner } from "../engine/index.js";
import { sourcesOf, type Checked, type CheckedView } from "./probedHealth.js";

/** One uplink's health as the API shows it. */
export interface UplinkHealthView extends CheckedView {
  name: string;
}

/** What to probe for the config's checked uplinks, keyed by uplink name. */
export async function uplinkChecks(resolved: ResolvedConfig, netns: string | undefined): Promise<Checked[]> {
  const checked = resolved.config.uplinks.filter((u) => u.check);
  const links = checked.some((u) => !u.addresses) ? (await readIpState(new ProcessRunner(netns))).links : {};
  return checked.map((u) => ({ key: u.name, settings: checkSettings(u.check!), sources: sourcesOf(u.addresses ?? links[u.interface]?.addresses ?? []) }));
}

/** The API's view of an uplink's health. */
export function uplinkView(v: CheckedView): UplinkHealthView {
  return { name: v.key, ...v };
}
