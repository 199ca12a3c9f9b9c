/**
 * `symroute lab routed-network`: two hosts with two instances each and a
 * router with NAT; instance to instance across hosts, to and from the
 * outside; an instance moved to the other host.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Lab } from "./lab.js";
import { buildRoutedNetwork, hostConfig, plugInstance, ROUTED, type Instance } from "./routedNetwork.js";
import { applyFile, describeApply, destroyIn, runProbes, type Probe, type Say } from "./story.js";
import { examplePath } from "./examples.js";
import { tcpEcho } from "./traffic.js";

/** The story; true when nothing crossed hosts before and everything did after, including the moved instance. */
export async function routedNetworkStory(lab: Lab, say: Say): Promise<boolean> {
  const [vm1a, vm1b, vm2a, vm2b] = ROUTED.instances;
  say("== routed-network (seed 001): a routed subnet for virtual machines, proxy ARP/NDP, a NAT router ==");
  say(`building namespaces ${lab.prefix}-{sw,h1,h2,r,out,vm1a,vm1b,vm2a,vm2b}`);
  await buildRoutedNetwork(lab);
  const probes: Probe[] = [];
  for (const fam of ["v4", "v6"] as const) {
    const f = fam === "v4" ? "IPv4" : "IPv6";
    probes.push({ label: `vm1a -> vm1b ${vm1b[fam]} (same host, ${f})`, from: vm1a.name, to: vm1b[fam], port: ROUTED.port });
    probes.push({ label: `vm1a -> vm2a ${vm2a[fam]} (across hosts, ${f})`, from: vm1a.name, to: vm2a[fam], port: ROUTED.port });
    probes.push({ label: `vm2b -> outside ${ROUTED.outside[fam]} (NAT by the router, ${f})`, from: vm2b.name, to: ROUTED.outside[fam], port: ROUTED.port });
    probes.push({ label: `outside -> vm1b ${vm1b[fam]} (routed, no NAT, ${f})`, from: "out", to: vm1b[fam], port: ROUTED.port });
  }
  say("before symroute:");
  const before = await runProbes(lab, probes, say);
  const dir = mkdtempSync(join(tmpdir(), "symroute-lab-"));
  try {
    const files: Record<string, string> = {};
    for (const h of ["h1", "h2"]) {
      files[h] = join(dir, `${h}.yaml`);
      writeFileSync(files[h], hostConfig(ROUTED.instances.filter((i) => i.host === h)));
    }
    for (const h of ["h1", "h2"]) say(`symroute apply (host role, ${h}): ${describeApply(await applyFile(lab, h, files[h], say))}`);
    say(`symroute apply ${examplePath("routed-network-router.yaml")} (router role, r): ${describeApply(await applyFile(lab, "r", examplePath("routed-network-router.yaml"), say))}`);
    say("after symroute:");
    const after = await runProbes(lab, probes, say);
    const neigh = (await lab.exec("r", ["ip", "-4", "neigh", "show", ROUTED.arpSource])).stdout.trim();
    say(`  the router learned the hosts' ARP source: ${neigh || "(nothing)"}`);
    say("moving vm1a from h1 to h2 (new tap, symroute apply on both hosts):");
    const moved: Instance = { ...vm1a, host: "h2", tap: "tap2" };
    await lab.exec("h1", ["ip", "link", "del", vm1a.tap]);
    await plugInstance(lab, moved);
    writeFileSync(files.h1, hostConfig([vm1b]));
    writeFileSync(files.h2, hostConfig([vm2a, vm2b, moved]));
    await applyFile(lab, "h1", files.h1);
    await applyFile(lab, "h2", files.h2);
    const start = Date.now();
    let ok = false;
    while (!ok && Date.now() - start < 3000) ok = (await tcpEcho(lab, "out", moved.v4, ROUTED.port, { timeoutSec: 1 })).ok;
    say(`  outside -> vm1a ${moved.v4} on h2: ${ok ? `OK after ${Date.now() - start} ms (gratuitous ARP told the router)` : "FAIL"}`);
    say("symroute destroy on h1, h2, r");
    for (const h of ["h1", "h2", "r"]) await destroyIn(lab, h);
    return before.every((b, i) => !b || probes[i].label.includes("same host")) && after.every(Boolean) && ok;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
