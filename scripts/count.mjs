// Reads vitest's JSON report and prints the closing line CI reads: "N passed, N failed, N skipped".
// Exits non-zero when a test failed, when none ran, or when the type check or the layering check failed.
import { readFileSync } from "node:fs";

const [file, tscStatus, layersStatus = "0"] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const report = JSON.parse(readFileSync(file, "utf8"));
  passed = report.numPassedTests ?? 0;
  // a file that fails to load has no failed test of its own: count it as one failure
  const brokenFiles = (report.testResults ?? []).filter(
    (r) => r.status === "failed" && !(r.assertionResults ?? []).some((a) => a.status === "failed"),
  ).length;
  failed = (report.numFailedTests ?? 0) + brokenFiles;
  skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  // as root (CI) every test can run: the only skip allowed is a kernel feature this kernel lacks (or has), put on
  // the test's meta by test/helpers/skips.ts; anything else skipped (a tool missing, a forgotten .skip) fails the run
  const results = (report.testResults ?? []).flatMap((r) => r.assertionResults ?? []);
  const skippedTests = results.filter((a) => a.status === "skipped" || a.status === "pending" || a.status === "todo");
  const byKernel = new Map();
  for (const a of skippedTests) {
    const why = a.meta?.kernelFeature;
    if (why) byKernel.set(why, (byKernel.get(why) ?? 0) + 1);
  }
  for (const [why, n] of byKernel) console.log(`skipped for the kernel: ${why} (${n})`);
  if (process.getuid?.() === 0) {
    const unexplained = skippedTests.filter((a) => !a.meta?.kernelFeature);
    for (const a of unexplained) console.error(`skipped as root without a kernel reason: ${a.fullName}`);
    failed += unexplained.length;
  }
} catch (e) {
  console.error(`no test report: ${e.message}`);
  failed += 1;
}
if (tscStatus !== "0") {
  console.error("type check failed");
  failed += 1;
}
if (layersStatus !== "0") {
  console.error("layering check failed (.dependency-cruiser.cjs)");
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
