/**
 * The routing protocol number symroute tags its rules and routes with
 * (`proto 97`): how it tells its own objects from everyone else's. 97 has no
 * name in iproute2's rt_protos, so no other tool uses it by convention.
 */
export const SYMROUTE_PROTO = 97;

/** The name of symroute's nftables tables (inet, and arp where ARP is rewritten): the kernel objects it owns by name. */
export const NFT_TABLE = "symroute";
