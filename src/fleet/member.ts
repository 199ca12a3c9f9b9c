/**
 * A member's own record in the store (issue 20), under the member's own etcd
 * lease: it is renewed every third of the lease, so the record vanishes from
 * `fleet status` when the member (or its link to etcd) is gone for a lease,
 * and is put back, under a new lease, as soon as etcd answers again.
 */
import { EtcdClient } from "./etcd.js";
import { FleetKeys } from "./keys.js";
import { memberRecordSchema, type MemberRecord } from "./records.js";

/** Publishes one member's record; `stop()` ends its timer and takes the record away. */
export class MemberPublisher {
  private lease: string | null = null;
  private record: MemberRecord | null = null;
  private timer: NodeJS.Timeout | null = null;
  private busy: Promise<void> = Promise.resolve();
  private stopped = false;
  /** the last failure to reach etcd, null while it answers */
  lastError: string | null = null;

  constructor(
    private readonly client: EtcdClient,
    private readonly keys: FleetKeys,
    private readonly member: string,
    private readonly ttlSeconds = 10,
  ) {}

  /** Puts (or replaces) the record; starts the renewals the first time. Throws when the record would not validate. */
  async publish(record: MemberRecord): Promise<void> {
    if (record.member !== this.member) throw new RangeError(`record of ${record.member} published as ${this.member}`);
    this.record = memberRecordSchema.parse(record);
    this.timer ??= setInterval(() => void this.serial(() => this.renew()), Math.max(500, (this.ttlSeconds * 1000) / 3));
    await this.serial(() => this.put());
  }

  /** Ends the renewals and revokes the lease: the record leaves the store now rather than a lease later. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.busy;
    if (this.lease) await this.client.revoke(this.lease).catch(() => undefined);
    this.lease = null;
  }

  /** One operation at a time: a renewal never races a put over the lease. */
  private serial(op: () => Promise<void>): Promise<void> {
    const next = this.busy.then(op, op);
    this.busy = next.catch(() => undefined);
    return next;
  }

  private async put(): Promise<void> {
    if (this.stopped || !this.record) return;
    try {
      this.lease ??= (await this.client.grant(this.ttlSeconds)).id;
      await this.client.put(this.keys.member(this.member), JSON.stringify(this.record), this.lease);
      this.lastError = null;
    } catch (e) {
      this.lastError = (e as Error).message;
      throw e;
    }
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.lease && (await this.client.keepAlive(this.lease)) > 0) {
        this.lastError = null;
        return;
      }
      // etcd expired the lease (it was out of reach for longer): a new lease, the record again
      this.lease = null;
      await this.put();
    } catch (e) {
      this.lastError = (e as Error).message;
    }
  }
}
