/**
 * Links symroute creates itself (the vrf strategy's VRF and veth legs).
 * Field names follow `ip -j -d link` keys.
 */
export interface VrfLink {
  kind: "vrf";
  ifname: string;
  /** `linkinfo.info_data.table` */
  table: number;
  /** interfaces enslaved to the VRF (`master`) */
  members: string[];
}

export interface VethLink {
  kind: "veth";
  ifname: string;
  peer: string;
  /** VRF the peer leg is enslaved to */
  peerMaster?: string;
  address: string;
  peerAddress: string;
}

export type Link = VrfLink | VethLink;
