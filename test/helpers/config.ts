/** Helpers to load configs from text in tests. */
import { loadConfigText } from "../../src/config/load.js";
import type { ResolvedConfig } from "../../src/config/resolved.js";
import { formatIssue } from "../../src/config/errors.js";

/** Loads a config that must be valid. */
export function mustLoad(text: string, file = "test.yaml"): ResolvedConfig {
  const r = loadConfigText(text, file);
  if (!r.ok) throw new Error(r.issues.map(formatIssue).join("\n"));
  return r.value;
}

/** Loads a config that must be invalid and returns the formatted issues. */
export function mustFail(text: string, file = "test.yaml"): string[] {
  const r = loadConfigText(text, file);
  if (r.ok) throw new Error("config was accepted");
  return r.issues.map(formatIssue);
}

export const TWO_UPLINKS = `version: 1
uplinks:
  - name: isp1
    interface: eth1
    gateway: 203.0.113.1
    gateway6: 2001:db8:1::1
  - name: isp2
    interface: eth2
    gateway: 192.0.2.1
    gateway6: 2001:db8:2::1
`;
