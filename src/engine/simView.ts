/**
 * The live kernel as the simulator sees it, for trace, doctor and the
 * differential tests: kernel/ reads the rows, simulate/ parses them.
 */
import type { Runner } from "../kernel/runner.js";
import { readKernelRows } from "../kernel/simView.js";
import { kernelView } from "../simulate/parse.js";
import type { KernelView } from "../simulate/types.js";

/** The kernel's routing state as the simulator models it. */
export async function readKernelView(runner: Runner): Promise<KernelView> {
  const { rows, links } = await readKernelRows(runner);
  return { ...kernelView(rows), links };
}

export { kernelDecisions, routeGetWords } from "../kernel/simView.js";
