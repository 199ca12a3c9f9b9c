/**
 * The frontend's interfaces and their addresses, read from the kernel now:
 * the daemon judges a registered target's conduit and next hop against them
 * (daemon/registrationPlace.ts) without reaching into kernel/ itself.
 */
import { readIpState } from "../kernel/ipState.js";
import { ProcessRunner } from "../kernel/runner.js";

/** Interface name to its addresses as CIDR text. */
export async function interfaceAddresses(opts: { netns?: string }): Promise<Record<string, { addresses: string[] }>> {
  return (await readIpState(new ProcessRunner(opts.netns))).links;
}
