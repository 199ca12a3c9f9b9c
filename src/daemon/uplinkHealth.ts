/**
 * The daemon's side of uplink health: one prober per uplink with a `check`,
 * probing from the uplink's own addresses (followed as they change), a health
 * state machine per uplink, and the set of uplinks that are down, which is an
 * input to compile like the config. The kernel is never edited here: a
 * transition asks the daemon to reconcile.
 */
import type { ResolvedConfig } from "../config/resolved.js";
import { checkSettings, UplinkHealth, type HealthSnapshot, type Transition } from "./health.js";
import { startUplinkProbes, type ProbeSources, type UplinkProbes } from "../kernel/prober.js";
import { readIpState } from "../kernel/ipState.js";
import { ProcessRunner } from "../kernel/runner.js";
import { isIP } from "node:net";

/** One uplink's health as the API shows it. */
export interface UplinkHealthView extends HealthSnapshot {
  name: string;
  sources: ProbeSources;
  /** probe processes running */
  processes: number;
}

interface Watched {
  health: UplinkHealth;
  probes: UplinkProbes;
  sources: ProbeSources;
  key: string;
}

/** The source addresses an uplink probes from: its config's, else its interface's first global ones. */
function sourcesOf(addresses: string[]): ProbeSources {
  const plain = addresses.map((a) => a.split("/")[0]);
  return {
    source4: plain.find((a) => isIP(a) === 4) ?? null,
    source6: plain.find((a) => isIP(a) === 6 && !/^fe[89ab]/i.test(a)) ?? null,
  };
}

/** Health of every checked uplink of a config. */
export class UplinkHealthTracker {
  private readonly watched = new Map<string, Watched>();
  private readonly now = () => performance.now();

  constructor(
    private readonly netns: string | undefined,
    private readonly onTransition: (uplink: string, t: Transition) => void,
  ) {}

  /** The uplinks that are down now: compile leaves them out of outbound sharing. */
  down(): Set<string> {
    return new Set([...this.watched].filter(([, w]) => w.health.current === "down").map(([n]) => n));
  }

  /** Starts, stops or retargets probers to match the config and the interfaces' addresses now. */
  async sync(resolved: ResolvedConfig): Promise<void> {
    const checked = resolved.config.uplinks.filter((u) => u.check);
    const links = checked.some((u) => !u.addresses) ? (await readIpState(new ProcessRunner(this.netns))).links : {};
    const wanted = new Set(checked.map((u) => u.name));
    for (const [name, w] of this.watched) if (!wanted.has(name)) {
      await w.probes.stop();
      this.watched.delete(name);
    }
    for (const u of checked) {
      const settings = checkSettings(u.check!);
      const key = JSON.stringify(settings);
      const sources = sourcesOf(u.addresses ?? links[u.interface]?.addresses ?? []);
      const have = this.watched.get(u.name);
      if (have && have.key === key) {
        if (JSON.stringify(have.sources) !== JSON.stringify(sources)) {
          have.probes.retarget(sources);
          have.sources = sources;
        }
        continue;
      }
      if (have) await have.probes.stop();
      // a changed check starts over from "up", as at start: routing keeps the uplink until probes say otherwise
      const health = new UplinkHealth(settings, this.now());
      const probes = startUplinkProbes({ netns: this.netns, uplink: u.name, check: settings, now: this.now, ...sources }, (round) => {
        const t = health.record(round);
        if (t) this.onTransition(u.name, t);
      });
      this.watched.set(u.name, { health, probes, sources, key });
    }
  }

  /** Every checked uplink's health, for the API and metrics. */
  views(): UplinkHealthView[] {
    return [...this.watched].map(([name, w]) => ({ name, sources: w.sources, processes: w.probes.processes(), ...w.health.snapshot() }));
  }

  /** Stops every prober. */
  async stop(): Promise<void> {
    await Promise.all([...this.watched.values()].map((w) => w.probes.stop()));
    this.watched.clear();
  }
}
