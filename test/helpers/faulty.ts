/** A real runner that fails chosen commands, to inject failures into a real apply. */
import { CommandError, ProcessRunner, type RunOptions, type RunResult, type Runner } from "../../src/kernel/runner.js";

export class FaultyRunner implements Runner {
  private readonly inner: ProcessRunner;
  failures = 0;
  constructor(
    readonly netns: string,
    private readonly shouldFail: (argv: string[], stdin?: string) => boolean,
  ) {
    this.inner = new ProcessRunner(netns);
  }

  async run(argv: string[], options: RunOptions = {}): Promise<RunResult> {
    if (this.shouldFail(argv, options.stdin)) {
      this.failures += 1;
      const result = { code: 1, stdout: "", stderr: "injected failure" };
      if (options.allowFailure) return result;
      throw new CommandError(argv, result);
    }
    return this.inner.run(argv, options);
  }
}
