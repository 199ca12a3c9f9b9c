#!/usr/bin/env node
/** Entry point: runs main and exits with its code. */
import { main } from "./main.js";

main(process.argv).then((code) => {
  process.exitCode = code;
});
