/**
 * Errors carry their kind (issue 18, item 2): the errno behind a failed
 * command is read once, in kernel/netlinkErrors.ts, from what iproute2 and nft
 * print (these fixtures were captured from this kernel's tools), and the
 * daemon's retries follow the kind, never the text.
 */
import { describe, expect, it } from "vitest";
import { errnoOf } from "../../src/kernel/netlinkErrors.js";
import { CommandError } from "../../src/kernel/runner.js";
import { LockTimeoutError } from "../../src/kernel/lock.js";
import { MissingToolError } from "../../src/kernel/tools.js";
import { kindOf } from "../../src/model/errorKind.js";

// captured: a rule added twice, a route deleted that is not there, a table that is not there, a device that is not there
const CAPTURED = {
  ruleTwice: "RTNETLINK answers: File exists\n",
  routeGone: "RTNETLINK answers: No such process\n",
  batchTwice: "RTNETLINK answers: File exists\nCommand failed -:1\n",
  nftNoTable: "Error: Could not process rule: No such file or directory\ndelete table inet nothere\n                  ^^^^^^^\n",
  noDevice: 'Cannot find device "nodev0"\n',
};

describe("error kinds", () => {
  it("reads the errno of iproute2's and nft's messages", () => {
    expect(errnoOf(CAPTURED.ruleTwice)).toBe("EEXIST");
    expect(errnoOf(CAPTURED.routeGone)).toBe("ESRCH");
    expect(errnoOf(CAPTURED.batchTwice)).toBe("EEXIST");
    expect(errnoOf(CAPTURED.nftNoTable)).toBe("ENOENT");
    expect(errnoOf(CAPTURED.noDevice)).toBe("ENODEV");
    expect(errnoOf("Error: syntax error, unexpected junk\n")).toBeNull();
  });

  it("a command that met a race is retryable; one that met a missing device or a syntax error is not", () => {
    const fail = (stderr: string) => new CommandError(["ip", "-batch", "-"], { code: 1, stdout: "", stderr });
    expect(kindOf(fail(CAPTURED.ruleTwice))).toBe("retryable");
    expect(kindOf(fail(CAPTURED.routeGone))).toBe("retryable");
    expect(kindOf(fail(CAPTURED.nftNoTable))).toBe("retryable");
    expect(kindOf(fail(CAPTURED.noDevice))).toBe("fatal");
    expect(kindOf(fail("Error: syntax error\n"))).toBe("fatal");
  });

  it("kernel errors of their own kind, and any other error fatal", () => {
    expect(kindOf(new LockTimeoutError("/run/symroute/x.lock", null, 1000))).toBe("retryable");
    expect(kindOf(new MissingToolError(["nft"]))).toBe("refused");
    expect(kindOf(new Error("File exists"))).toBe("fatal");
    expect(kindOf(null)).toBe("fatal");
  });
});
