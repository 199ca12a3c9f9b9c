/**
 * The daemon's BGP speaker: keeps the BIRD file's announcements in step with
 * which VIPs are ready (src/bgp/ready.ts), polled every 50 ms and nudged after
 * each reconcile and health change, and on stop withdraws everything, waits
 * until no neighbour is sent a VIP any more (bounded by `withdrawWait`), then
 * stops its BIRD. With `speaker: managed` it runs its own BIRD per namespace;
 * with `external` it writes the include and asks the user's BIRD to re-read it.
 * The kernel's routing is never touched here.
 */
import type { Bgp, Config } from "../config/schema.js";
import { durationMs } from "../config/schema.js";
import { bgpSettingsOf, neighborProtocol, renderBird } from "../bgp/bird.js";
import { vipReadiness, vipsOf, type TargetState } from "../bgp/ready.js";
import { birdConfigure, birdExported, birdPaths, birdProtocols, startBird, writeBirdFile, type BirdProcess } from "../engine/index.js";

type Log = (level: "debug" | "info" | "warn" | "error", fields: Record<string, unknown>) => void;

/** What the announcer reads of the daemon. */
export interface AnnouncerInputs {
  netns: string | undefined;
  /** the config in force */
  config: () => Config;
  /** the config last applied without error */
  applied: () => Config | null;
  targets: () => TargetState[];
  log: Log;
}

/** What the API and tests see. */
export interface BgpStatus {
  announced: string[];
  sessions: { name: string; state: string; info: string }[] | null;
}

export class BgpAnnouncer {
  private bird: BirdProcess | null = null;
  private readonly last = { text: null as string | null };
  private announced = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private bgp: Bgp;

  private constructor(private readonly inputs: AnnouncerInputs, bgp: Bgp) {
    this.bgp = bgp;
  }

  /** Writes the file with nothing announced and starts (or reconfigures) the speaker; null when the config has no `bgp`. */
  static async start(inputs: AnnouncerInputs): Promise<BgpAnnouncer | null> {
    const bgp = inputs.config().bgp;
    if (!bgp) return null;
    const a = new BgpAnnouncer(inputs, bgp);
    await a.write(new Set());
    if (bgp.speaker === "managed") a.bird = await startBird(inputs.netns, a.paths());
    else await birdConfigure(a.paths().socket);
    inputs.log("info", { msg: "bgp speaker started", speaker: bgp.speaker, file: a.paths().config, socket: a.paths().socket, pid: a.bird?.pid ?? null });
    a.timer = setInterval(() => a.nudge(), 50);
    return a;
  }

  private paths() {
    return birdPaths(this.inputs.netns, this.bgp.birdConfig, this.bgp.birdSocket);
  }

  private async write(ready: Set<string>): Promise<boolean> {
    return writeBirdFile(this.paths().config, renderBird(bgpSettingsOf(this.bgp), vipsOf(this.inputs.config()), ready), this.last);
  }

  /** Re-reads readiness and announces or withdraws what changed (serialised: one birdc at a time). */
  nudge(): void {
    if (this.stopped) return;
    this.chain = this.chain.then(() => this.sync()).catch((e: unknown) => this.inputs.log("error", { msg: "bgp announcements not updated", error: (e as Error).message }));
  }

  private async sync(): Promise<void> {
    if (this.stopped) return;
    const config = this.inputs.config();
    if (config.bgp && JSON.stringify(config.bgp) !== JSON.stringify(this.bgp)) this.bgp = { ...config.bgp, speaker: this.bgp.speaker, birdConfig: this.bgp.birdConfig, birdSocket: this.bgp.birdSocket };
    const readiness = config.bgp ? vipReadiness(config, this.inputs.applied(), this.inputs.targets()) : new Map<string, boolean>();
    await this.update(readiness);
  }

  /** Announces exactly the VIPs marked ready. */
  async update(ready: Map<string, boolean>): Promise<void> {
    const want = new Set([...ready].filter(([, r]) => r).map(([v]) => v));
    if (!(await this.write(want))) return;
    await birdConfigure(this.paths().socket);
    const added = [...want].filter((v) => !this.announced.has(v));
    const removed = [...this.announced].filter((v) => !want.has(v));
    this.announced = want;
    if (added.length || removed.length) this.inputs.log("info", { msg: "bgp announcements", announce: added, withdraw: removed, announced: [...want] });
  }

  /** Withdraws every VIP and waits (at most `limitMs`) until no neighbour session is still sent one. */
  async withdrawAll(limitMs = durationMs(this.bgp.withdrawWait) ?? 2000): Promise<number> {
    const started = Date.now();
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.chain;
    await this.update(new Map());
    const names = this.bgp.neighbors.map((_, i) => neighborProtocol(i));
    while (Date.now() - started < limitMs) {
      const left = await Promise.all(names.map((n) => birdExported(this.paths().socket, n)));
      if (left.every((l) => l === null || l.length === 0)) {
        // the UPDATE is queued: a moment for it to reach the router and the router's kernel
        await new Promise((r) => setTimeout(r, Math.min(200, Math.max(0, limitMs - (Date.now() - started)))));
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return Date.now() - started;
  }

  /** Withdraws, waits, and stops the speaker symroute started (an external one keeps running, with nothing of symroute's announced). */
  async stop(): Promise<void> {
    const ms = await this.withdrawAll().catch((e: unknown) => {
      this.inputs.log("error", { msg: "bgp withdrawal failed", error: (e as Error).message });
      return null;
    });
    this.inputs.log("info", { msg: "bgp withdrawn", waitedMs: ms });
    await this.bird?.stop();
  }

  /** The VIPs announced now and the BGP sessions' states. */
  async status(): Promise<BgpStatus> {
    const protocols = await birdProtocols(this.paths().socket);
    return {
      announced: [...this.announced].sort(),
      sessions: protocols?.filter((p) => p.proto === "BGP").map((p) => ({ name: p.name, state: p.state, info: p.info })) ?? null,
    };
  }
}
