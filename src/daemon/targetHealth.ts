/**
 * Health of load-balancer targets under `symroute run`: a TCP connect to each
 * checked target's via address (and via6) every interval, sent from the
 * conduit's own address so it goes the way balanced packets go. Targets that
 * fail `down` times in a row are an input to compile (they leave the Maglev
 * table in one in-place change); `up` successes bring them back.
 */
import type { ResolvedConfig } from "../config/resolved.js";
import { durationMs } from "../config/schema.js";
import { UplinkHealth, type CheckSettings, type HealthSnapshot, type Transition } from "./health.js";
import { startUplinkProbes, type ProbeSources, type UplinkProbes } from "../kernel/prober.js";
import { readIpState } from "../kernel/ipState.js";
import { ProcessRunner } from "../kernel/runner.js";
import { isIP } from "node:net";

/** A target's health as the API shows it; `key` is "BALANCER/TARGET". */
export interface TargetHealthView extends HealthSnapshot {
  key: string;
  balancer: string;
  target: string;
}

interface Watched {
  health: UplinkHealth;
  probes: UplinkProbes;
  sources: ProbeSources;
  settingsKey: string;
}

/** Health of every checked target of a config. */
export class TargetHealthTracker {
  private readonly watched = new Map<string, Watched>();
  private readonly now = () => performance.now();

  constructor(
    private readonly netns: string | undefined,
    private readonly onTransition: (key: string, t: Transition) => void,
  ) {}

  /** Targets whose checks say down now, as "BALANCER/TARGET". */
  down(): Set<string> {
    return new Set([...this.watched].filter(([, w]) => w.health.current === "down").map(([k]) => k));
  }

  /** Starts, stops or retargets probers to match the config and the conduits' addresses. */
  async sync(resolved: ResolvedConfig): Promise<void> {
    const checked = resolved.config.loadBalancers.flatMap((lb) => lb.targets.filter((t) => t.check).map((t) => ({ lb, t })));
    const links = checked.length ? (await readIpState(new ProcessRunner(this.netns))).links : {};
    const wanted = new Set(checked.map(({ lb, t }) => `${lb.name}/${t.name}`));
    for (const [key, w] of this.watched)
      if (!wanted.has(key)) {
        await w.probes.stop();
        this.watched.delete(key);
      }
    for (const { lb, t } of checked) {
      const key = `${lb.name}/${t.name}`;
      const c = t.check!;
      const intervalMs = durationMs(c.interval) ?? 250;
      const settings: CheckSettings = {
        targets: [t.via, t.via6].filter((a): a is string => !!a),
        method: { kind: "tcp", port: c.tcp },
        intervalMs,
        timeoutMs: c.timeout ? (durationMs(c.timeout) ?? Math.round(intervalMs / 2)) : Math.round(intervalMs / 2),
        down: c.down,
        up: c.up,
        holdMs: 0,
      };
      const own = (links[t.interface]?.addresses ?? []).map((a) => a.split("/")[0]);
      const sources: ProbeSources = { source4: own.find((a) => isIP(a) === 4) ?? null, source6: own.find((a) => isIP(a) === 6 && !/^fe[89ab]/i.test(a)) ?? null };
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
      const health = new UplinkHealth(settings, this.now());
      const probes = startUplinkProbes({ netns: this.netns, uplink: key, check: settings, now: this.now, ...sources }, (round) => {
        const tr = health.record(round);
        if (tr) this.onTransition(key, tr);
      });
      this.watched.set(key, { health, probes, sources, settingsKey });
    }
  }

  /** Every checked target's health. */
  views(): TargetHealthView[] {
    return [...this.watched].map(([key, w]) => {
      const [balancer, target] = key.split("/");
      return { key, balancer, target, ...w.health.snapshot() };
    });
  }

  /** Stops every prober. */
  async stop(): Promise<void> {
    await Promise.all([...this.watched.values()].map((w) => w.probes.stop()));
    this.watched.clear();
  }
}
