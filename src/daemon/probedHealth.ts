/**
 * The daemon's health checks, whatever they probe (uplinks, load-balancer
 * targets): one prober and one health state machine per checked thing, kept
 * in step with what the config asks (started, stopped, restarted when the
 * check changes, retargeted when the source addresses move), and the set of
 * things that are down, an input to compile. The kernel is never edited
 * here: a transition asks the daemon to reconcile.
 */
import { isIP } from "node:net";
import { UplinkHealth, type CheckSettings, type HealthSnapshot, type Transition } from "./health.js";
import { startUplinkProbes, type ProbeSources, type UplinkProbes } from "../engine/index.js";
import { CheckProber } from "../engine/index.js";

/** One thing to check: its key, its check and the addresses its probes leave from. */
export interface Checked {
  key: string;
  settings: CheckSettings;
  sources: ProbeSources;
  /** the state before the first probe: "up" (default: traffic keeps its way at start), "down" for a target that joins while running */
  initial?: "up" | "down";
}

/** One checked thing's health, for the API and metrics. */
export interface CheckedView extends HealthSnapshot {
  key: string;
  sources: ProbeSources;
  /** targets being probed now (a ping each for ICMP; TCP, HTTP and command checks share the daemon's one prober process) */
  processes: number;
}

interface Watched {
  health: UplinkHealth;
  probes: UplinkProbes;
  sources: ProbeSources;
  settingsKey: string;
}

/** The first IPv4 and the first global IPv6 address of a list of CIDRs: where probes leave from. */
export function sourcesOf(addresses: string[]): ProbeSources {
  const plain = addresses.map((a) => a.split("/")[0]);
  return {
    source4: plain.find((a) => isIP(a) === 4) ?? null,
    source6: plain.find((a) => isIP(a) === 6 && !/^fe[89ab]/i.test(a)) ?? null,
  };
}

/** Probers and health state machines for a set of checked things. */
export class ProbedHealth {
  private readonly watched = new Map<string, Watched>();
  private readonly now = () => performance.now();
  /** runs the TCP, HTTP and command checks: the daemon's, shared with its other checks, else one of our own */
  private readonly prober: CheckProber;
  private readonly ownProber: boolean;

  constructor(
    private readonly netns: string | undefined,
    private readonly onTransition: (key: string, t: Transition) => void,
    prober?: CheckProber,
  ) {
    this.prober = prober ?? new CheckProber(netns);
    this.ownProber = !prober;
  }

  /** The keys whose checks say down now. */
  down(): Set<string> {
    return new Set([...this.watched].filter(([, w]) => w.health.current === "down").map(([k]) => k));
  }

  /** Makes the running probers match `wanted`. */
  async sync(wanted: Checked[]): Promise<void> {
    const keys = new Set(wanted.map((c) => c.key));
    for (const [key, w] of this.watched)
      if (!keys.has(key)) {
        await w.probes.stop();
        this.watched.delete(key);
      }
    for (const { key, settings, sources, initial } of wanted) {
      const settingsKey = JSON.stringify(settings);
      const have = this.watched.get(key);
      if (have && have.settingsKey === settingsKey) {
        if (JSON.stringify(have.sources) !== JSON.stringify(sources)) {
          have.probes.retarget(sources);
          have.sources = sources;
        }
        continue;
      }
      if (have) await have.probes.stop();
      // a changed check starts over from "up", as at start: traffic keeps its way until probes say otherwise
      const health = new UplinkHealth(settings, this.now(), initial ?? "up");
      const probes = startUplinkProbes({ netns: this.netns, uplink: key, check: settings, now: this.now, prober: this.prober, ...sources }, (round) => {
        const t = health.record(round);
        if (t) this.onTransition(key, t);
      });
      this.watched.set(key, { health, probes, sources, settingsKey });
    }
  }

  /** Every checked thing's health. */
  views(): CheckedView[] {
    return [...this.watched].map(([key, w]) => ({ key, sources: w.sources, processes: w.probes.processes(), ...w.health.snapshot() }));
  }

  /** Stops every prober (the shared prober process is its owner's to stop). */
  async stop(): Promise<void> {
    await Promise.all([...this.watched.values()].map((w) => w.probes.stop()));
    this.watched.clear();
    if (this.ownProber) await this.prober.stop();
  }
}
