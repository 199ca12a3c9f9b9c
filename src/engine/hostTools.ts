/**
 * Facts about this host's own tools that the edges ask for (the systemd
 * version a networkd render aims at), read through kernel/ so the edges and
 * render/ run nothing themselves.
 */
import { DEFAULT_SYSTEMD_VERSION } from "../render/index.js";
import { ProcessRunner } from "../kernel/runner.js";
import { readSystemdVersion, type SystemdVersion } from "../kernel/systemdVersion.js";

/** This host's systemd version, or Debian 12's when neither networkctl nor systemctl answers. */
export async function hostSystemdVersion(): Promise<SystemdVersion> {
  // the version of the tools on this machine, whatever --netns says: a namespace shares the host's files
  return (await readSystemdVersion(new ProcessRunner())) ?? { version: DEFAULT_SYSTEMD_VERSION, source: "default (no networkctl or systemctl here)" };
}
