/**
 * Finds the example configs shipped with symroute, wherever it runs from
 * (src/ under tsx or dist/ after a build).
 */
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

/** Absolute path of examples/NAME. */
export function examplePath(name: string): string {
  return join(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples", name);
}
