/**
 * The one allowed reason to skip a kernel test: this kernel lacks (or has) a
 * feature the test is about, such as VRF or VLAN links. The reason is put on
 * the test's meta, where scripts/count.mjs finds it; run as root (CI), any
 * other skip fails the run.
 */
interface SkippableContext {
  task: { meta: object };
  skip(note?: string): void;
}

/** Skips the test because of the kernel, naming the feature (e.g. "no vrf support"). */
export function skipForKernel(ctx: SkippableContext, reason: string): void {
  (ctx.task.meta as Record<string, unknown>).kernelFeature = reason;
  ctx.skip(`skipped: ${reason}`);
}
