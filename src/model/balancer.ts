/**
 * What symroute decided for one load balancer: its Maglev table, seed and
 * targets with their marks and tables. Kept with the applied state (for
 * `assignment: stable` and `lb show`) and used by the simulator.
 */
export interface BalancerTarget {
  name: string;
  mark: number;
  table: number;
  chain: string;
  interface: string;
  via?: string;
  via6?: string;
  /** absent: in the table */
  state?: "down" | "draining";
}

/** A port flow as the fast path matches it (for the simulator). */
export interface FastFlow {
  name: string;
  protocols: string[];
  destinationPorts?: string[];
  sourcePorts?: string[];
  sources?: string[];
}

export interface BalancerInfo {
  name: string;
  size: number;
  seed: number;
  assignment: "maglev" | "stable";
  /** flow memory: seconds a flow is remembered, most flows per target and family */
  flowMemory?: { timeout: number; size: number };
  vips: string[];
  targets: BalancerTarget[];
  flows: string[];
  /** the fast path: the interfaces whose netdev ingress chains forward the port flows straight to their targets */
  fastPath?: { ingress: string[]; flows: FastFlow[] };
  /** owner (target name) of each entry */
  table: string[];
  /** the IPv6 table, when some targets serve IPv4 only */
  table6?: string[];
}
