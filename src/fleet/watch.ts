/**
 * The fleet's prefix as a stream of typed events (issue 20): one full read,
 * then a watch from just after its revision. When the connection is lost
 * (the member died, etcd stopped) the watcher says so, keeps the last state,
 * and reconnects to the next endpoint, resuming from the last revision it
 * saw, so no event is lost; when etcd has compacted that far, it reads the
 * whole prefix again and reports a resync. It never empties its state on a
 * loss: a member without its store serves on what it last knew.
 */
import { EtcdClient, decodeKv, headerRevision, int } from "./etcd.js";
import { FleetKeys, prefixEnd, type FleetKey } from "./keys.js";
import { applyKv, stateFromKvs, emptyFleetState, type FleetState } from "./state.js";
import type { RejectedRecord } from "./records.js";
import type { OpenStream } from "./transport.js";

/** What a watcher tells its owner. */
export type FleetEvent =
  | { type: "put"; key: string; what: FleetKey; revision: number }
  | { type: "delete"; key: string; what: FleetKey | null; revision: number }
  | { type: "rejected"; rejected: RejectedRecord; revision: number }
  /** a full read replaced the state (resync: after a compaction, with no put/delete events for what changed): read current() again */
  | { type: "synced"; revision: number; resync: boolean }
  | { type: "connected"; endpoint: string }
  | { type: "disconnected"; reason: string };

/** Timing of a watcher (tests shorten them). */
export interface WatchOptions {
  /** first wait before reconnecting; doubles up to maxBackoffMs */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** how often the watched endpoint is probed: a connection cut without a reset shows no error by itself */
  probeMs?: number;
}

/** Watches one fleet's root; `stop()` ends its stream and timers. */
export class FleetWatcher {
  private state: FleetState = emptyFleetState();
  private stream: OpenStream | null = null;
  private stopped = false;
  private connected = false;
  private probe: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly client: EtcdClient,
    private readonly keys: FleetKeys,
    private readonly onEvent: (e: FleetEvent) => void,
    private readonly options: WatchOptions = {},
  ) {}

  /** Starts reading and watching; returns once the first full read is in (or throws when no endpoint answers it). */
  async start(): Promise<void> {
    await this.resync(false);
    this.loop = this.run(false);
  }

  /**
   * Starts without waiting for etcd: a member that boots while its store is
   * out of reach runs on its own state, and the first full read comes (a
   * `synced` event) whenever an endpoint answers.
   */
  begin(): void {
    this.loop ??= this.run(true);
  }

  /** The state as last seen (a copy: the owner may keep it). */
  current(): FleetState {
    return { ...this.state, targets: new Map(this.state.targets), drains: new Map(this.state.drains), members: new Map(this.state.members), configRevisions: new Map(this.state.configRevisions), rejected: new Map(this.state.rejected) };
  }

  /** Whether the watch stream is up now. */
  isConnected(): boolean {
    return this.connected;
  }

  /** Ends the stream and every timer; the state stays readable. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stream?.close();
    if (this.probe) clearInterval(this.probe);
    this.wake?.();
    await this.loop;
  }

  private async resync(announce: boolean): Promise<void> {
    const { kvs, revision } = await this.client.range(this.keys.root, { prefix: true });
    this.state = stateFromKvs(this.keys, kvs, revision);
    for (const r of this.state.rejected.values()) this.onEvent({ type: "rejected", rejected: r, revision });
    this.onEvent({ type: "synced", revision, resync: announce });
  }

  private async run(firstRead: boolean): Promise<void> {
    let backoff = this.options.backoffMs ?? 200;
    let needResync = firstRead;
    while (!this.stopped) {
      const endpoint = this.client.transport.order()[0];
      try {
        if (needResync) {
          await this.resync(!firstRead || this.state.revision > 0);
          needResync = false;
        }
        const outcome = await this.watchOnce(endpoint);
        if (outcome === "compacted") needResync = true;
        backoff = this.options.backoffMs ?? 200;
      } catch (e) {
        this.client.transport.demote(endpoint);
        this.lost(`${endpoint}: ${(e as Error).message}`);
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.options.maxBackoffMs ?? 2000);
      }
    }
    this.lost("stopped");
  }

  private lost(reason: string): void {
    if (this.probe) clearInterval(this.probe);
    this.probe = null;
    if (!this.connected) return;
    this.connected = false;
    this.onEvent({ type: "disconnected", reason });
  }

  /** One stream on one endpoint, until it ends: "compacted" when etcd no longer has the revision to resume from. */
  private async watchOnce(endpoint: string): Promise<"ended" | "compacted"> {
    let compacted = false;
    const body = { create_request: { key: Buffer.from(this.keys.root).toString("base64"), range_end: prefixEnd(this.keys.root).toString("base64"), start_revision: String(this.state.revision + 1), progress_notify: true } };
    const stream = this.client.transport.stream(endpoint, "/v3/watch", body, (line) => {
      const result = line.result as Record<string, unknown> | undefined;
      if (!result) throw new Error(`watch: ${JSON.stringify(line.error ?? line).slice(0, 200)}`);
      if (result.created === true && !this.connected) {
        this.connected = true;
        this.onEvent({ type: "connected", endpoint });
      }
      if (int(result.compact_revision) > 0) {
        compacted = true;
        stream.close();
        return;
      }
      if (result.canceled === true) {
        stream.close();
        return;
      }
      const events = Array.isArray(result.events) ? (result.events as Record<string, unknown>[]) : [];
      for (const ev of events) this.apply(ev);
      // a progress notice: nothing happened up to its revision, so a resumption may start past it
      if (events.length === 0 && result.created !== true) this.state.revision = Math.max(this.state.revision, headerRevision(result));
    });
    this.stream = stream;
    this.startProbe(endpoint, stream);
    try {
      await stream.done;
    } catch (e) {
      if (!compacted && !this.stopped) throw e;
    } finally {
      this.stream = null;
    }
    if (!compacted && !this.stopped) throw new Error("watch stream ended");
    return compacted ? "compacted" : "ended";
  }

  private apply(ev: Record<string, unknown>): void {
    const kv = decodeKv(ev.kv as Record<string, unknown>);
    const revision = kv.modRevision;
    this.state.revision = Math.max(this.state.revision, revision);
    if (ev.type === "DELETE") {
      applyKv(this.state, this.keys, kv.key, null);
      this.onEvent({ type: "delete", key: kv.key, what: this.keys.parse(kv.key), revision });
      return;
    }
    const rejected = applyKv(this.state, this.keys, kv.key, kv.value);
    const what = this.keys.parse(kv.key);
    if (rejected) this.onEvent({ type: "rejected", rejected, revision });
    else if (what) this.onEvent({ type: "put", key: kv.key, what, revision });
  }

  /** Probes the watched member: a member that stops answering (a cut cable, a frozen process) ends its stream. */
  private startProbe(endpoint: string, stream: OpenStream): void {
    if (this.probe) clearInterval(this.probe);
    const probeClient = new EtcdClient({ ...this.transportOptions(), endpoints: [endpoint] });
    this.probe = setInterval(() => {
      probeClient.status().catch(() => stream.close());
    }, this.options.probeMs ?? 2000);
    this.probe.unref();
    void stream.done.catch(() => undefined).finally(() => probeClient.close());
  }

  private transportOptions(): { endpoints: readonly string[]; tls?: { ca: string; cert: string; key: string }; timeoutMs: number } {
    return { endpoints: this.client.transport.endpoints, tls: this.client.tls, timeoutMs: this.client.transport.timeoutMs };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }
}
