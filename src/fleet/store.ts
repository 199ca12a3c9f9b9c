/**
 * The fleet's operations on etcd (issue 20): registrations under etcd leases,
 * renewals, removals, drains, and pushed config revisions. Each record is
 * validated before it is written, with the schema every reader applies, so a
 * member never writes what the others would refuse. Owner checks compare the
 * record read with a transaction on its mod revision: a record changed in
 * between is not overwritten.
 */
import { createHash } from "node:crypto";
import { EtcdClient } from "./etcd.js";
import { FleetKeys } from "./keys.js";
import { configRevisionSchema, drainRecordSchema, parseRecord, targetRecordSchema, type ConfigRevision, type DrainRecord, type TargetRecord } from "./records.js";
import { loadConfigText } from "../config/load.js";
import { formatIssue, type ConfigIssue } from "../config/errors.js";

/** A refusal of a store operation: who may not do what, or a record that would not validate. */
export class FleetStoreError extends Error {
  constructor(
    readonly kind: "invalid" | "forbidden" | "missing" | "conflict",
    message: string,
  ) {
    super(message);
    this.name = "FleetStoreError";
  }
}

/** A registration as held in etcd: its key and the lease that keeps it. */
export interface Registration {
  key: string;
  lease: string;
  ttlSeconds: number;
}

/** The outcome of a push: the new revision, or every problem of the file (nothing stored). */
export type PushResult = { ok: true; revision: number } | { ok: false; issues: ConfigIssue[] };

/** One fleet's operations on its etcd. */
export class FleetStore {
  constructor(
    readonly client: EtcdClient,
    readonly keys: FleetKeys,
  ) {}

  /**
   * Registers (or replaces) a target under a new etcd lease of `leaseMs`
   * (rounded up to whole seconds). A target someone else registered is refused.
   */
  async registerTarget(record: TargetRecord, leaseMs: number): Promise<Registration> {
    const checked = targetRecordSchema.safeParse(record);
    if (!checked.success) throw new FleetStoreError("invalid", `invalid target record: ${checked.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    const key = this.keys.target(record.balancer, record.target.name);
    const existing = await this.read(key, targetRecordSchema);
    if (existing?.value === null && record.owner !== "local")
      throw new FleetStoreError("forbidden", `${key} holds a record that does not validate: only a frontend's operator replaces it`);
    if (existing?.value && existing.value.owner !== record.owner) throw new FleetStoreError("forbidden", `target ${record.target.name} of ${record.balancer} was registered by ${existing.value.owner}`);
    const ttlSeconds = Math.max(2, Math.ceil(leaseMs / 1000));
    const { id } = await this.client.grant(ttlSeconds);
    const { succeeded } = await this.client.txn([{ key, modRevision: existing?.modRevision ?? 0 }], [{ put: { key, value: JSON.stringify(checked.data), lease: id } }]);
    if (!succeeded) {
      await this.client.revoke(id).catch(() => undefined);
      throw new FleetStoreError("conflict", `target ${record.target.name} of ${record.balancer} changed meanwhile; try again`);
    }
    if (existing && existing.lease !== "0") await this.client.revoke(existing.lease).catch(() => undefined);
    return { key, lease: id, ttlSeconds };
  }

  /** Renews a registration's lease; false when etcd already expired it (the target is gone and must register again). */
  async renew(registration: Registration): Promise<boolean> {
    return (await this.client.keepAlive(registration.lease)) > 0;
  }

  /** Removes a registered target now (its lease too); only its owner (or "local") may. False when there was none. */
  async removeTarget(balancer: string, name: string, caller: string): Promise<boolean> {
    const key = this.keys.target(balancer, name);
    const existing = await this.read(key, targetRecordSchema);
    if (!existing) return false;
    if (existing.value === null && caller !== "local") throw new FleetStoreError("forbidden", `${key} holds a record that does not validate: only a frontend's operator removes it`);
    if (caller !== "local" && existing.value?.owner !== caller) throw new FleetStoreError("forbidden", `target ${name} of ${balancer} was registered by ${existing.value?.owner}`);
    const { succeeded } = await this.client.txn([{ key, modRevision: existing.modRevision }], [{ delete: { key } }, { delete: { key: this.keys.drain(balancer, name) } }]);
    if (!succeeded) throw new FleetStoreError("conflict", `target ${name} of ${balancer} changed meanwhile; try again`);
    if (existing.lease !== "0") await this.client.revoke(existing.lease).catch(() => undefined);
    return true;
  }

  /** Starts a drain for `timeoutMs`; the record says who drained it, and readers honour only its owner or "local". */
  async drain(balancer: string, name: string, timeoutMs: number, caller: string, now = Date.now()): Promise<DrainRecord> {
    const record: DrainRecord = { version: 1, balancer, target: name, since: new Date(now).toISOString(), deadline: new Date(now + timeoutMs).toISOString(), owner: caller };
    const checked = drainRecordSchema.safeParse(record);
    if (!checked.success) throw new FleetStoreError("invalid", `invalid drain: ${checked.error.issues.map((i) => i.message).join("; ")}`);
    if (caller !== "local") {
      const target = await this.read(this.keys.target(balancer, name), targetRecordSchema);
      if (!target?.value || target.value.owner !== caller) throw new FleetStoreError("forbidden", `${caller} drains only targets it registered`);
    }
    await this.client.put(this.keys.drain(balancer, name), JSON.stringify(checked.data));
    return checked.data;
  }

  /** Ends a drain; false when there was none. */
  async undrain(balancer: string, name: string, caller: string): Promise<boolean> {
    const key = this.keys.drain(balancer, name);
    const existing = await this.read(key, drainRecordSchema);
    if (existing && caller !== "local" && existing.value?.owner !== caller) throw new FleetStoreError("forbidden", `the drain of ${name} is ${existing.value?.owner ?? "a record that does not validate"}'s`);
    return (await this.client.delete(key)) > 0;
  }

  /**
   * Validates a config file's text like `symroute validate` and, when valid,
   * stores it as the next revision (a transaction on config/latest, so two
   * pushes at once get two numbers). An invalid file is refused: nothing is stored.
   */
  async pushConfig(text: string, file: string, by: string, now = Date.now()): Promise<PushResult> {
    const loaded = loadConfigText(text, file);
    if (!loaded.ok) return { ok: false, issues: loaded.issues };
    for (let attempt = 0; attempt < 10; attempt++) {
      const latest = await this.client.range(this.keys.configLatest());
      const current = latest.kvs[0];
      const n = current ? Number(current.value) : 0;
      if (!Number.isSafeInteger(n) || n < 0) throw new FleetStoreError("invalid", `${this.keys.configLatest()} holds ${JSON.stringify(current?.value)}, not a revision number`);
      const revision: ConfigRevision = { version: 1, revision: n + 1, pushedAt: new Date(now).toISOString(), pushedBy: by, file, sha256: createHash("sha256").update(text).digest("hex"), text };
      const { succeeded } = await this.client.txn(
        [{ key: this.keys.configLatest(), modRevision: current?.modRevision ?? 0 }],
        [{ put: { key: this.keys.configRevision(n + 1), value: JSON.stringify(revision) } }, { put: { key: this.keys.configLatest(), value: String(n + 1) } }],
      );
      if (succeeded) return { ok: true, revision: n + 1 };
    }
    throw new FleetStoreError("conflict", "config/latest kept changing: another push is under way; try again");
  }

  /**
   * The latest config revision, validated again as it is read (the store is
   * untrusted): null when none was pushed; `problems` when it does not hold.
   */
  async latestConfig(): Promise<{ revision: ConfigRevision; problems: string[] } | null> {
    const latest = await this.client.range(this.keys.configLatest());
    if (!latest.kvs[0]) return null;
    const n = Number(latest.kvs[0].value);
    if (!Number.isSafeInteger(n) || n < 1) throw new FleetStoreError("invalid", `${this.keys.configLatest()} is not a revision number`);
    const key = this.keys.configRevision(n);
    const got = await this.read(key, configRevisionSchema);
    if (!got?.value) throw new FleetStoreError("missing", `${key} is absent or not a valid revision record`);
    const loaded = loadConfigText(got.value.text, `${got.value.file} (revision ${n})`);
    const sha = createHash("sha256").update(got.value.text).digest("hex");
    const problems = [...(sha === got.value.sha256 ? [] : ["its sha256 does not match its text"]), ...(loaded.ok ? [] : loaded.issues.map(formatIssue))];
    return { revision: got.value, problems };
  }

  /** Reads and validates one record: null when absent, `value` null when it does not validate (a reader never trusts it). */
  private async read<T>(key: string, schema: Parameters<typeof parseRecord<T>>[0]): Promise<{ value: T | null; modRevision: number; lease: string } | null> {
    const { kvs } = await this.client.range(key);
    const kv = kvs[0];
    if (!kv) return null;
    const parsed = parseRecord(schema, key, kv.value);
    return { value: parsed.ok ? parsed.value : null, modRevision: kv.modRevision, lease: kv.lease };
  }
}
