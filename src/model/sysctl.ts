/**
 * A kernel setting under /proc/sys. Keys use the slash form
 * (`net/ipv4/conf/eth0.500/rp_filter`) because interface names may hold dots.
 */
export interface Sysctl {
  key: string;
  value: string;
  why?: string;
}

/** The key of an interface's IPv4 conf setting. */
export function ipv4Conf(iface: string, setting: string): string {
  return `net/ipv4/conf/${iface}/${setting}`;
}
