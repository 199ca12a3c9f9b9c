/**
 * The fleet's client made from a config's `fleet` section (issue 20): the
 * endpoints, the TLS files and the key root in one place, for the commands
 * and (later) the daemon.
 */
import { hostname } from "node:os";
import type { Fleet } from "../config/schemaFleet.js";
import { EtcdClient } from "./etcd.js";
import { FleetKeys, fleetRoot } from "./keys.js";
import { FleetStore } from "./store.js";

/** A fleet's client, keys, store and this member's name. */
export interface FleetHandle {
  client: EtcdClient;
  keys: FleetKeys;
  store: FleetStore;
  member: string;
}

/** The member name: the config's, else the host name's first label (so it is a valid key segment). */
export function memberName(fleet: Fleet, host = hostname()): string {
  if (fleet.member) return fleet.member;
  const label = host.split(".")[0].replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 63);
  return /^[A-Za-z0-9]/.test(label) ? label : `m${label}`.slice(0, 63);
}

/** Opens the fleet's client (reads the TLS files now); `client.close()` releases its connections. */
export function openFleet(fleet: Fleet, timeoutMs?: number): FleetHandle {
  const client = new EtcdClient({ endpoints: fleet.etcd.endpoints, tls: fleet.etcd.tls, timeoutMs });
  const keys = new FleetKeys(fleetRoot(fleet.etcd.prefix, fleet.name));
  return { client, keys, store: new FleetStore(client, keys), member: memberName(fleet) };
}
