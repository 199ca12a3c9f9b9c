/** The kernel state plan compares against: the types live in model/ (kernel/ reads them, plan/ compares them). */
export type { Tagged, LiveState, AppliedRecord } from "../model/live.js";
