/**
 * `symroute lab daemon`: seed 004's host run by `symroute run` (the daemon,
 * in-process), faulted from outside as other tools and events do: a rule
 * deleted by hand, the nft table flushed, an uplink's link flapped, its
 * address moved. Each repair is printed with its latency, measured from the
 * fault to the kernel showing the object again.
 */
import type { Lab } from "./lab.js";
import type { Say } from "./story.js";
import { runProbes, destroyIn, until } from "./story.js";
import { buildUplinks, UPLINKS } from "./uplinks.js";
import { examplePath } from "./examples.js";
import { Daemon } from "../daemon/daemon.js";
import { loadConfigText } from "../config/load.js";
import { formatIssue } from "../config/errors.js";
import { readFileSync } from "node:fs";

/** Runs the story; true when every fault was repaired in time and the clients connect after each. */
export async function daemonStory(lab: Lab, say: Say): Promise<boolean> {
  say("== daemon: symroute run keeps the host's routing true while it is changed from outside ==");
  say(`building namespaces ${lab.prefix}-{host,isp1,isp2,client1,client2,lan}`);
  await buildUplinks(lab);
  const file = examplePath("uplinks.yaml");
  const load = () => {
    const r = loadConfigText(readFileSync(file, "utf8"), file);
    if (!r.ok) throw new Error(r.issues.map(formatIssue).join("\n"));
    return r.value;
  };
  const daemon = new Daemon({ netns: lab.ns("host"), load, reconcileIntervalMs: 30_000, debounceMs: 20 });
  const sh = async (...argv: string[]) => (await lab.exec("host", argv, undefined, true)).stdout;
  const probes = (["isp1", "isp2"] as const).map((isp, i) => ({ label: `client${i + 1} -> host ${UPLINKS.host[isp].v4} by ${isp}`, from: `client${i + 1}`, to: UPLINKS.host[isp].v4, port: UPLINKS.port }));
  let held = true;
  const step = async (what: string, fault: () => Promise<void>, repaired: () => Promise<boolean>, limitMs = 1000) => {
    await fault();
    const ms = await until(repaired, limitMs, 5);
    say(ms === null ? `  ${what}: NOT repaired within ${limitMs} ms` : `  ${what}: repaired in ${ms} ms`);
    held &&= ms !== null;
    held &&= (await runProbes(lab, probes, (l) => say(`    ${l.trim()}`))).every(Boolean);
  };
  try {
    say(`symroute run ${file} --netns ${lab.ns("host")}`);
    const first = await daemon.start();
    say(`  first apply: ${first.error ?? first.summary ?? "no changes"} (${first.durationMs} ms)`);
    const rules = () => sh("ip", "rule");
    const from1 = `from ${UPLINKS.host.isp1.v4} lookup`;
    await step("a rule deleted by hand (ip rule del from 203.0.113.8)", () => sh("ip", "rule", "del", "from", UPLINKS.host.isp1.v4).then(() => undefined), async () => (await rules()).includes(from1));
    const table = await sh("nft", "-s", "list", "table", "inet", "symroute");
    await step("the nft table flushed (nft flush table inet symroute)", () => sh("nft", "flush", "table", "inet", "symroute").then(() => undefined), async () => (await sh("nft", "-s", "list", "table", "inet", "symroute")) === table);
    await step(
      "a link flap on eth2 (down, up, its IPv6 address put back as a network manager does)",
      async () => {
        await sh("ip", "link", "set", "eth2", "down");
        await new Promise((r) => setTimeout(r, 300));
        await sh("ip", "link", "set", "eth2", "up");
        await sh("ip", "addr", "add", `${UPLINKS.host.isp2.v6}/64`, "dev", "eth2", "nodad");
      },
      async () => (await sh("ip", "route", "show", "table", "all")).includes("default via 192.0.2.1 dev eth2 table") && (await sh("ip", "-6", "route", "show", "table", "all")).includes("default via 2001:db8:2::1 dev eth2 table"),
      2000,
    );
    await step(
      "an address moved on eth1 (203.0.113.9 added, 203.0.113.8 removed, as a DHCP renew would; then back)",
      async () => {
        await sh("sysctl", "-q", "-w", "net/ipv4/conf/eth1/promote_secondaries=1");
        await sh("ip", "addr", "add", "203.0.113.9/24", "dev", "eth1");
        await sh("ip", "addr", "del", `${UPLINKS.host.isp1.v4}/24`, "dev", "eth1");
        const ms = await until(async () => (await rules()).includes("from 203.0.113.9 lookup") && !(await rules()).includes(from1), 1000, 5);
        say(`    the rule followed to 203.0.113.9 in ${ms ?? "more than 1000"} ms`);
        held &&= ms !== null;
        await sh("ip", "addr", "add", `${UPLINKS.host.isp1.v4}/24`, "dev", "eth1");
        await sh("ip", "addr", "del", "203.0.113.9/24", "dev", "eth1");
      },
      async () => (await rules()).includes(from1) && !(await rules()).includes("from 203.0.113.9 lookup"),
    );
    const s = daemon.snapshot();
    say(`daemon: ${s.reconciles.ok} reconciles (${s.reconciles.failed} failed), ${s.events.relevant} of ${s.events.seen} kernel events concerned symroute`);
  } finally {
    await daemon.stop();
    say("symroute destroy: host back as it was");
    await destroyIn(lab, "host");
  }
  return held;
}
