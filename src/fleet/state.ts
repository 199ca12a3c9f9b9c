/**
 * The fleet's store as typed records: the keys and values read or watched
 * under the fleet's root, each validated (records.ts) and checked against its
 * own key. Pure: a watch applies its events here one at a time, a resync
 * replaces the whole. A key outside the layout or a record that does not
 * validate is kept aside as rejected, so it is reported, never used.
 */
import { FleetKeys } from "./keys.js";
import {
  configRevisionSchema,
  drainRecordSchema,
  memberRecordSchema,
  parseRecord,
  targetRecordSchema,
  type ConfigRevision,
  type DrainRecord,
  type MemberRecord,
  type RejectedRecord,
  type TargetRecord,
} from "./records.js";

/** One key and value as etcd returns it, decoded. */
export interface RawKv {
  key: string;
  value: string;
  modRevision: number;
  lease: string;
}

/** The typed view of a fleet's keys. Maps are keyed by the etcd key. */
export interface FleetState {
  targets: Map<string, TargetRecord>;
  drains: Map<string, DrainRecord>;
  members: Map<string, MemberRecord>;
  configRevisions: Map<number, ConfigRevision>;
  rejected: Map<string, RejectedRecord>;
  /** etcd's revision this state is as of (resumption starts just after it) */
  revision: number;
}

/** A state with nothing in it. */
export function emptyFleetState(): FleetState {
  return { targets: new Map(), drains: new Map(), members: new Map(), configRevisions: new Map(), rejected: new Map(), revision: 0 };
}

/** Removes a key from every map: a delete, or a put that replaces a record of another kind. */
function forget(state: FleetState, keys: FleetKeys, key: string): void {
  state.targets.delete(key);
  state.drains.delete(key);
  state.members.delete(key);
  state.rejected.delete(key);
  const what = keys.parse(key);
  if (what?.kind === "configRevision") state.configRevisions.delete(what.revision);
}

/**
 * Applies one put (value given) or delete (value null) to the state, in place.
 * Returns the rejection when the put's record was refused.
 */
export function applyKv(state: FleetState, keys: FleetKeys, key: string, value: string | null): RejectedRecord | null {
  forget(state, keys, key);
  if (value === null) return null;
  const what = keys.parse(key);
  const reject = (problems: string[]): RejectedRecord => {
    const r = { key, problems };
    state.rejected.set(key, r);
    return r;
  };
  if (what === null) return reject(["key outside the fleet's layout (targets/, drains/, members/, config/)"]);
  switch (what.kind) {
    case "target": {
      const p = parseRecord(targetRecordSchema, key, value);
      if (!p.ok) return reject(p.rejected.problems);
      if (p.value.balancer !== what.balancer || p.value.target.name !== what.name)
        return reject([`record names ${p.value.balancer}/${p.value.target.name} but its key names ${what.balancer}/${what.name}`]);
      state.targets.set(key, p.value);
      return null;
    }
    case "drain": {
      const p = parseRecord(drainRecordSchema, key, value);
      if (!p.ok) return reject(p.rejected.problems);
      if (p.value.balancer !== what.balancer || p.value.target !== what.name)
        return reject([`record names ${p.value.balancer}/${p.value.target} but its key names ${what.balancer}/${what.name}`]);
      state.drains.set(key, p.value);
      return null;
    }
    case "member": {
      const p = parseRecord(memberRecordSchema, key, value);
      if (!p.ok) return reject(p.rejected.problems);
      if (p.value.member !== what.member) return reject([`record names member ${p.value.member} but its key names ${what.member}`]);
      state.members.set(key, p.value);
      return null;
    }
    case "configRevision": {
      const p = parseRecord(configRevisionSchema, key, value);
      if (!p.ok) return reject(p.rejected.problems);
      if (p.value.revision !== what.revision) return reject([`record is revision ${p.value.revision} but its key names ${what.revision}`]);
      state.configRevisions.set(what.revision, p.value);
      return null;
    }
    case "configLatest":
      return null;
  }
}

/** A state built from a full read of the root (a start or a resync). */
export function stateFromKvs(keys: FleetKeys, kvs: readonly RawKv[], revision: number): FleetState {
  const state = emptyFleetState();
  for (const kv of kvs) applyKv(state, keys, kv.key, kv.value);
  state.revision = revision;
  return state;
}
