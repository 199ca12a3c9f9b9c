/**
 * Connection tracking entries by mark: on failover, the connections a dead
 * uplink carried (its connection mark) are deleted so their next packet starts
 * over on a live uplink; every other connection stays (mwan3 and VyOS flush the
 * whole table and cut the healthy uplinks' connections too).
 */
import type { Runner } from "./runner.js";

/** Deletes the entries whose mark matches `mark` under `mask`, both families; returns how many went. */
export async function deleteConntrackByMark(runner: Runner, mark: number, mask: number): Promise<number> {
  let deleted = 0;
  for (const family of ["ipv4", "ipv6"]) {
    const r = await runner.run(["conntrack", "-D", "-f", family, "--mark", `${mark >>> 0}/${mask >>> 0}`], { allowFailure: true });
    // "N flow entries have been deleted" on stderr; none found is exit 1 with 0 deleted
    const m = /(\d+) flow entr(?:y|ies) ha(?:s|ve) been deleted/.exec(r.stderr + r.stdout);
    if (m) deleted += Number(m[1]);
    else if (r.code !== 0 && !/0 flow entries/.test(r.stderr)) throw new Error(`conntrack -D --mark failed: ${r.stderr.trim()}`);
  }
  return deleted;
}
