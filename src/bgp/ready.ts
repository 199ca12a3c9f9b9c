/**
 * Which VIPs a frontend may announce, pure: a VIP is ready when the ruleset
 * that balances it is loaded (it was in the last config applied without
 * error) and at least one target of its balancer is healthy: unchecked, or
 * checked, up and answered at least once since the daemon started (a target
 * the daemon has not heard from yet does not make a VIP ready: a frontend
 * that restarts announces only what it can serve).
 */
import type { Config } from "../config/schema.js";
import type { Vip } from "./bird.js";

/** What readiness needs of a target's health. */
export interface TargetState {
  balancer: string;
  target: string;
  state: "up" | "down";
  answered: number;
}

/** Every VIP of the config, with its balancer. */
export function vipsOf(config: Config): Vip[] {
  return config.loadBalancers.flatMap((lb) => lb.vips.map((address) => ({ address, balancer: lb.name })));
}

/** VIP -> ready, for every VIP of `config`. `applied` is the config last applied without error (null: none yet). */
export function vipReadiness(config: Config, applied: Config | null, targets: TargetState[]): Map<string, boolean> {
  const health = new Map(targets.map((t) => [`${t.balancer}/${t.target}`, t]));
  const ready = new Map<string, boolean>();
  for (const lb of config.loadBalancers) {
    const loaded = applied?.loadBalancers.find((a) => a.name === lb.name);
    const serving = lb.targets.some((t) => {
      if (!t.check) return true;
      const h = health.get(`${lb.name}/${t.name}`);
      return !!h && h.state === "up" && h.answered > 0;
    });
    for (const vip of lb.vips) ready.set(vip, (ready.get(vip) ?? false) || (!!loaded && loaded.vips.includes(vip) && serving));
  }
  return ready;
}
