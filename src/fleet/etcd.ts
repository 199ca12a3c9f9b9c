/**
 * The few etcd v3 calls the fleet needs, over the JSON gateway (issue 20):
 * keys and values travel base64-encoded, 64-bit numbers as decimal strings.
 * Answers are checked for the fields used; nothing here knows the fleet's
 * layout (keys.ts) or records (records.ts).
 */
import { Transport, type TransportOptions } from "./transport.js";
import { prefixEnd } from "./keys.js";
import type { RawKv } from "./state.js";

const b64 = (s: string | Buffer): string => Buffer.from(s).toString("base64");
const unb64 = (s: unknown): string => (typeof s === "string" ? Buffer.from(s, "base64").toString("utf8") : "");
/** etcd's int64 fields come as strings (absent when 0). */
export const int = (v: unknown): number => (typeof v === "string" || typeof v === "number" ? Number(v) : 0);

/** One operation inside a transaction. */
export type TxnOp = { put: { key: string; value: string; lease?: string } } | { delete: { key: string } };

/** A comparison a transaction needs to hold. */
export type TxnCompare =
  | { key: string; modRevision: number } // the key's mod revision is this (0: the key does not exist)
  | { key: string; value: string };

/** Decodes one kv of an answer. */
export function decodeKv(kv: Record<string, unknown>): RawKv {
  return { key: unb64(kv.key), value: unb64(kv.value), modRevision: int(kv.mod_revision), lease: typeof kv.lease === "string" ? kv.lease : "0" };
}

/** etcd's revision in an answer's header. */
export function headerRevision(answer: Record<string, unknown>): number {
  return int((answer.header as Record<string, unknown> | undefined)?.revision);
}

/** The etcd client: key-value, transactions and leases over the gateway. */
export class EtcdClient {
  readonly transport: Transport;
  /** the TLS files, so a probe of one endpoint is made alike */
  readonly tls: TransportOptions["tls"];

  constructor(options: TransportOptions) {
    this.transport = new Transport(options);
    this.tls = options.tls;
  }

  /** Puts one key, optionally under a lease; returns the store's revision after it. */
  async put(key: string, value: string, lease?: string): Promise<number> {
    return headerRevision(await this.transport.post("/v3/kv/put", { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) }));
  }

  /** Every key under a prefix (or the one key), with the revision the read is as of. */
  async range(key: string, options: { prefix?: boolean; revision?: number } = {}): Promise<{ kvs: RawKv[]; revision: number }> {
    const answer = await this.transport.post("/v3/kv/range", {
      key: b64(key),
      ...(options.prefix ? { range_end: prefixEnd(key).toString("base64") } : {}),
      ...(options.revision ? { revision: String(options.revision) } : {}),
    });
    const kvs = Array.isArray(answer.kvs) ? (answer.kvs as Record<string, unknown>[]).map(decodeKv) : [];
    return { kvs, revision: headerRevision(answer) };
  }

  /** Deletes a key (or every key under a prefix); returns how many went. */
  async delete(key: string, options: { prefix?: boolean } = {}): Promise<number> {
    const answer = await this.transport.post("/v3/kv/deleterange", { key: b64(key), ...(options.prefix ? { range_end: prefixEnd(key).toString("base64") } : {}) });
    return int(answer.deleted);
  }

  /** Runs `ops` when every comparison holds; returns whether they held and the revision after. */
  async txn(compare: TxnCompare[], ops: TxnOp[]): Promise<{ succeeded: boolean; revision: number }> {
    const answer = await this.transport.post("/v3/kv/txn", {
      compare: compare.map((c) =>
        "modRevision" in c
          ? { key: b64(c.key), target: "MOD", result: "EQUAL", mod_revision: String(c.modRevision) }
          : { key: b64(c.key), target: "VALUE", result: "EQUAL", value: b64(c.value) },
      ),
      success: ops.map((op) =>
        "put" in op
          ? { request_put: { key: b64(op.put.key), value: b64(op.put.value), ...(op.put.lease ? { lease: op.put.lease } : {}) } }
          : { request_delete_range: { key: b64(op.delete.key) } },
      ),
    });
    return { succeeded: answer.succeeded === true, revision: headerRevision(answer) };
  }

  /** Grants a lease of `ttlSeconds`; etcd, not this process, decides when it ends. Returns its id (a decimal string). */
  async grant(ttlSeconds: number): Promise<{ id: string; ttl: number }> {
    const answer = await this.transport.post("/v3/lease/grant", { TTL: String(Math.max(1, Math.ceil(ttlSeconds))) });
    if (typeof answer.ID !== "string") throw new Error("etcd lease grant: answer without an ID");
    return { id: answer.ID, ttl: int(answer.TTL) };
  }

  /** Renews a lease once; the TTL left, or 0 when etcd already expired it (its keys are gone). */
  async keepAlive(id: string): Promise<number> {
    const answer = await this.transport.post("/v3/lease/keepalive", { ID: id });
    return int((answer.result as Record<string, unknown> | undefined)?.TTL);
  }

  /** Ends a lease now: its keys go with it. */
  async revoke(id: string): Promise<void> {
    await this.transport.post("/v3/lease/revoke", { ID: id });
  }

  /** The answering member's status (a liveness probe of one endpoint). */
  async status(): Promise<{ leader: string; revision: number }> {
    const answer = await this.transport.post("/v3/maintenance/status", {});
    return { leader: String(answer.leader ?? "0"), revision: headerRevision(answer) };
  }

  /** Closes idle connections. */
  close(): void {
    this.transport.close();
  }
}
