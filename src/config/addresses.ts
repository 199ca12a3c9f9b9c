/**
 * What an address or prefix field accepts, with a reason for each refusal:
 * the wrong family (and which field takes it), IPv4-mapped IPv6 written where
 * the plain IPv4 form belongs, and next hops no router can have (unspecified,
 * loopback, multicast, broadcast). The kernel would take some of these and
 * then route nowhere; others it refuses in the middle of an apply.
 */
import { formatAddress, formatPrefix, parseAddress, parsePrefix, type Address, type Family } from "../net/ip.js";
import { quote } from "./messages.js";

/** An address field: its family (absent: either), what the address is used as, and the field of the other family. */
export interface AddressField {
  family?: Family;
  /** e.g. "a gateway", "a next hop", "a VIP": set for addresses that must be a usable unicast host address */
  use?: string;
  /** the sibling field that takes the other family, e.g. "gateway6" for "gateway" */
  other?: string;
}

/** A prefix field: its family (absent: either) and the field of the other family. */
export interface PrefixField {
  family?: Family;
  other?: string;
}

const EXAMPLE_ADDRESS: Record<Family, string> = { 4: "192.0.2.1", 6: "2001:db8::1" };
const EXAMPLE_PREFIX: Record<Family, string> = { 4: "192.0.2.0/24", 6: "2001:db8::/64" };

/** IPv4-mapped IPv6 (`::ffff:a.b.c.d`): the IPv4 address it stands for, else null. */
export function mappedIpv4(address: Address): Address | null {
  if (address.family !== 6 || address.value >> 32n !== 0xffffn) return null;
  const value = address.value & 0xffffffffn;
  return { family: 4, value, n: Number(value) };
}

/** Why an address cannot be a next hop or a host's own unicast address; null when it can. */
export function unusableReason(address: Address): string | null {
  if (address.family === 4) {
    const n = Number(address.value);
    if (n === 0) return "the unspecified address";
    if (n >>> 24 === 127) return "a loopback address";
    if (n >>> 28 === 0xe) return "a multicast address";
    if (n === 0xffffffff) return "the broadcast address";
    return null;
  }
  if (address.value === 0n) return "the unspecified address";
  if (address.value === 1n) return "the loopback address";
  if (address.value >> 120n === 0xffn) return "a multicast address";
  return null;
}

function familyName(family: Family): string {
  return family === 4 ? "IPv4" : "IPv6";
}

/** Why `text` is not acceptable in the field; null when it is. */
export function addressProblem(text: string, field: AddressField): string | null {
  const address = parseAddress(text);
  const want = field.family ? `an ${familyName(field.family)} address such as ${EXAMPLE_ADDRESS[field.family]}` : "an IPv4 or IPv6 address";
  if (!address) {
    if (text.includes("/") && parsePrefix(text)) {
      const kind = field.family ? familyName(field.family) : "IPv4 or IPv6";
      return `must be one ${kind} address (${field.use ?? "this"} is a host address, not a prefix)`;
    }
    return `must be ${want}, got ${text === "" ? "an empty string" : quote(text)}`;
  }
  const mapped = mappedIpv4(address);
  if (mapped) {
    const where = field.family === 6 && field.other ? ` in ${field.other}` : "";
    return `${text} is an IPv4-mapped IPv6 address; write the plain IPv4 form ${formatAddress(mapped)}${where}`;
  }
  if (field.family && address.family !== field.family) {
    const where = field.other ? ` (${familyName(address.family)} goes in ${field.other})` : "";
    return `must be ${want}, got the ${familyName(address.family)} address ${text}${where}`;
  }
  if (field.use) {
    const reason = unusableReason(address);
    if (reason) return `${text}: ${reason} cannot be ${field.use}`;
  }
  return null;
}

/** Why `text` is not an acceptable prefix (or bare address) in the field; null when it is. */
export function prefixProblem(text: string, field: PrefixField): string | null {
  const prefix = parsePrefix(text);
  const want = field.family ? `an ${familyName(field.family)} CIDR such as ${EXAMPLE_PREFIX[field.family]}` : "an address or CIDR such as 10.0.0.0/24";
  if (!prefix) {
    const slash = text.indexOf("/");
    const address = slash > 0 ? parseAddress(text.slice(0, slash)) : null;
    if (address) return `the prefix length must be 0-${address.family === 4 ? 32 : 128} for ${familyName(address.family)}, got ${quote(text)}`;
    return `must be ${want}, got ${text === "" ? "an empty string" : quote(text)}`;
  }
  const mapped = mappedIpv4(prefix);
  if (mapped && prefix.length >= 96) {
    const plain = formatPrefix({ ...mapped, length: prefix.length - 96 });
    const where = field.family === 6 && field.other ? ` in ${field.other}` : "";
    return `${text} is an IPv4-mapped IPv6 ${prefix.length === 128 ? "address" : "prefix"}; write the plain IPv4 form ${plain}${where}`;
  }
  if (field.family && prefix.family !== field.family) {
    const where = field.other ? ` (${familyName(prefix.family)} goes in ${field.other})` : "";
    return `must be ${want}, got the ${familyName(prefix.family)} ${text.includes("/") ? "prefix" : "address"} ${text}${where}`;
  }
  return null;
}
