/**
 * What compile needs to know about the host that the config does not say:
 * interface addresses (for link routes and `from` rules) and the current
 * rp_filter values (to pin interfaces when `all` is lowered). Read by kernel/,
 * passed in as plain data so compile stays pure.
 */
export interface HostFacts {
  /** interface name to its addresses as CIDR text, whether it is administratively up (absent: unknown, taken as up), and its `mtu` (absent: unknown) */
  links: Record<string, { addresses: string[]; up?: boolean; mtu?: number }>;
  /** `net.ipv4.conf.*.rp_filter` by interface, including `all` and `default` */
  rpFilter: Record<string, number>;
}

/** Facts of a host we know nothing about, for offline rendering. */
export function noFacts(): HostFacts {
  return { links: {}, rpFilter: {} };
}
