/**
 * Finds the example configs shipped with symroute, wherever it runs from
 * (src/ under tsx or dist/ after a build).
 */
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { existsSync } from "node:fs";

/** Absolute path of examples/NAME: the nearest examples/ above this module (src/lab, dist/lab or the dist bundle). */
export function examplePath(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, "examples"))) return join(dir, "examples", name);
    dir = dirname(dir);
  }
  throw new Error(`examples/${name} not found near ${fileURLToPath(import.meta.url)}`);
}
