/**
 * The stories `symroute lab` tells: build a seed's topology, show real TCP
 * connections failing and where the replies went, apply the example config,
 * show them succeed, destroy, tear down. Each returns whether the story held.
 */
import { Lab } from "./lab.js";
import { buildReturnPath, packetsAtDefaultGateway, RETURN_PATH } from "./returnPath.js";
import { buildUplinks, spoofDrops, UPLINKS } from "./uplinks.js";
import { applyFile, describeApply, destroyIn, runProbes, type Probe, type Say } from "./story.js";
import { examplePath } from "./examples.js";
import { loadBalancerStory } from "./loadBalancerStory.js";
import { routedNetworkStory } from "./routedNetworkStory.js";
import { daemonStory } from "./daemonStory.js";
import { failoverStory } from "./failoverStory.js";
import { scaleOutStory } from "./scaleOutStory.js";

export const SCENARIOS = ["return-path", "uplinks", "load-balancer", "routed-network", "daemon", "failover", "scale-out"] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Runs one scenario from build to teardown. */
export async function runScenario(name: Scenario, say: Say, register: (lab: Lab) => void = () => undefined): Promise<boolean> {
  const lab = name === "scale-out" ? new Lab("s", "sb") : new Lab({ uplinks: "u", "load-balancer": "l", "routed-network": "n", "return-path": "r", daemon: "d", failover: "f" }[name]);
  register(lab);
  try {
    if (name === "load-balancer") return await loadBalancerStory(lab, say);
    if (name === "routed-network") return await routedNetworkStory(lab, say);
    if (name === "daemon") return await daemonStory(lab, say);
    if (name === "failover") return await failoverStory(lab, say);
    if (name === "scale-out") return await scaleOutStory(lab, say);
    return name === "uplinks" ? await uplinksStory(lab, say) : await returnPathStory(lab, say);
  } finally {
    say("tearing down the namespaces");
    await lab.teardown();
  }
}

async function returnPathStory(lab: Lab, say: Say): Promise<boolean> {
  say("== return-path (seed 000): services pinned to the network that serves them ==");
  say(`building namespaces ${lab.prefix}-{node,router,client1,client2,gw}`);
  await buildReturnPath(lab);
  const probes: Probe[] = [];
  for (const [client, c] of [["client1", RETURN_PATH.service1], ["client2", RETURN_PATH.service2]] as const)
    for (const family of ["v4", "v6"] as const)
      probes.push({ label: `${client} -> ${c[family]} port ${RETURN_PATH.port} (${family === "v4" ? "IPv4" : "IPv6"})`, from: client, to: c[family], port: RETURN_PATH.port });
  say("before symroute:");
  const before = await runProbes(lab, probes, say);
  const lost = await packetsAtDefaultGateway(lab);
  say(`  the replies left by the node's default route: ${lost} packets from the services reached the default gateway (eth0) instead of the router`);
  const file = examplePath("return-path.yaml");
  say(`symroute apply ${file} (in ${lab.ns("node")}):`);
  const outcome = await applyFile(lab, "node", file, say);
  say(`  ${describeApply(outcome)}`);
  say("after symroute:");
  const after = await runProbes(lab, probes, say);
  say("symroute destroy: node back as it was");
  await destroyIn(lab, "node");
  return before.every((ok) => !ok) && after.every((ok) => ok);
}

async function uplinksStory(lab: Lab, say: Say): Promise<boolean> {
  say("== uplinks (seed 004): replies leave by the uplink they came in on ==");
  say(`building namespaces ${lab.prefix}-{host,isp1,isp2,client1,client2,lan}`);
  await buildUplinks(lab);
  const probes: Probe[] = [];
  for (const family of ["v4", "v6"] as const) {
    const fam = family === "v4" ? "IPv4" : "IPv6";
    probes.push({ label: `client1 -> host ${UPLINKS.host.isp1[family]} by isp1 (${fam})`, from: "client1", to: UPLINKS.host.isp1[family], port: UPLINKS.port });
    probes.push({ label: `client2 -> host ${UPLINKS.host.isp2[family]} by isp2 (${fam})`, from: "client2", to: UPLINKS.host.isp2[family], port: UPLINKS.port });
    probes.push({ label: `client2 -> LAN server via host port ${UPLINKS.forwardedPort} of ${UPLINKS.host.isp2[family]} (${fam}, forwarded)`, from: "client2", to: UPLINKS.host.isp2[family], port: UPLINKS.forwardedPort });
  }
  say("before symroute (the host's default route is isp1; isp1 drops packets not from its own prefix):");
  const before = await runProbes(lab, probes, say);
  say(`  the replies to client2 left by isp1 with isp2's address: isp1 dropped ${await spoofDrops(lab, "isp1")} packets whose source was not its own`);
  const file = examplePath("uplinks.yaml");
  say(`symroute apply ${file} (in ${lab.ns("host")}):`);
  const outcome = await applyFile(lab, "host", file, say);
  say(`  ${describeApply(outcome)}`);
  say("after symroute:");
  const after = await runProbes(lab, probes, say);
  say("symroute destroy: host back as it was");
  await destroyIn(lab, "host");
  const viaIsp2 = probes.map((p, i) => ({ p, i })).filter(({ p }) => p.from === "client2");
  const viaIsp1 = probes.map((p, i) => ({ p, i })).filter(({ p }) => p.from === "client1");
  return viaIsp2.every(({ i }) => !before[i]) && viaIsp1.every(({ i }) => before[i]) && after.every((ok) => ok);
}
