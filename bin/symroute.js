#!/usr/bin/env node
// Runs the bundled CLI (`npm run build` makes dist/symroute.mjs).
import "../dist/symroute.mjs";
