/**
 * Patterns for every string in the config that ends up in a kernel command or
 * an nft object. Anything else is refused at validation, so quotes, spaces,
 * semicolons and newlines never reach `ip` or `nft`.
 */

/** Linux interface names: at most 15 bytes, no slash, colon or whitespace; we also refuse quotes and shell metacharacters. */
export const INTERFACE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,14}$/;

/** Names of uplinks, services, balancers, targets and networks. */
export const OBJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Network namespace names accepted by `--netns` (they become file names under /run). */
export const NETNS_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
