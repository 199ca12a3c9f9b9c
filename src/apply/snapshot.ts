/** What the kernel held of symroute's before a change: the type lives in model/, since the state file (kernel/) keeps it. */
export type { Snapshot } from "../model/snapshot.js";
