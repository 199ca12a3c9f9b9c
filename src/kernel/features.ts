/**
 * Probes for kernel features some strategies need, by trying them in the
 * target namespace and cleaning up at once.
 */
import type { Runner } from "./runner.js";
import type { KernelFeature } from "../model/desired.js";

/** Null when the feature works, else what the kernel said. */
export async function probeFeature(runner: Runner, feature: KernelFeature): Promise<string | null> {
  switch (feature) {
    case "vrf": {
      const name = `srprobe${process.pid % 10000}`;
      const res = await runner.run(["ip", "link", "add", name, "type", "vrf", "table", "4294967294"], { allowFailure: true });
      if (res.code !== 0) return res.stderr.trim() || `exit ${res.code}`;
      await runner.run(["ip", "link", "del", name], { allowFailure: true });
      return null;
    }
  }
}
