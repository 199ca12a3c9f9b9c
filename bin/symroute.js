#!/usr/bin/env node
// Runs the bundled CLI (`npm run build` makes dist/symroute.mjs). In a checkout
// that was never built, say what to run instead of a stack trace.
import { existsSync } from "node:fs";

const bundle = new URL("../dist/symroute.mjs", import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write(
    `symroute: ${bundle.pathname} is missing: this checkout is not built.\n` +
      "Run 'npm ci && npm run build' in it (or install a released package), then try again.\n",
  );
  process.exit(1);
}
await import(bundle.href);
