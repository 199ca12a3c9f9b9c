/**
 * The errno behind a failed `ip` command, read from the one line iproute2
 * prints for it ("RTNETLINK answers: File exists", "Error: Nexthop device is
 * not up."). The one place that reads a tool's error text; everything above
 * gets the errno name and decides from that.
 */

/** The errnos symroute tells apart. */
export type Errno = "EEXIST" | "ENOENT" | "ESRCH" | "ENODEV" | "ENETDOWN" | "EPERM" | "EINVAL" | "EBUSY";

const MESSAGES: [string, Errno][] = [
  ["File exists", "EEXIST"],
  ["No such file or directory", "ENOENT"],
  ["No such process", "ESRCH"],
  ["No such device", "ENODEV"],
  ["Cannot find device", "ENODEV"],
  ["Network is down", "ENETDOWN"],
  ["Operation not permitted", "EPERM"],
  ["Invalid argument", "EINVAL"],
  ["Device or resource busy", "EBUSY"],
];

/** The first errno named in a tool's stderr, or null. */
export function errnoOf(stderr: string): Errno | null {
  for (const line of stderr.split("\n")) {
    // iproute2 prints "RTNETLINK answers: <strerror>" and nft "Error: Could not process rule: <strerror>"
    for (const [text, errno] of MESSAGES) if (line.includes(text)) return errno;
  }
  return null;
}

/** A failure that a race with another writer explains: the object came or went between the read and the write. */
export function isRaceErrno(errno: Errno | null): boolean {
  return errno === "EEXIST" || errno === "ENOENT" || errno === "ESRCH";
}
