/**
 * Convergence on hosts set up the way distributions ship them: for every
 * example config, rp_filter 0, 1 and 2, forwarding/proxy_arp/proxy_ndp preset
 * or not: apply; plan is empty; a second apply writes nothing (ip and nft
 * monitors stay silent, sysctls unchanged); a variant applies and plans empty;
 * destroy puts every sysctl and object back.
 */
import { afterAll, describe, expect, it } from "vitest";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Lab } from "../../src/lab/lab.js";
import { loadConfigText } from "../../src/config/load.js";
import { destroy, planConfig, reconcile } from "../../src/engine/index.js";
import { isEmptyPlan } from "../../src/plan/plan.js";
import { formatPlan } from "../../src/plan/format.js";
import { probeFeature } from "../../src/kernel/features.js";
import { ProcessRunner } from "../../src/kernel/runner.js";
import { configFile, isRoot, kernelSnapshot } from "../helpers/kernel.js";
import { buildHostFor, profileSysctls, touchableSysctls, variantOf, watchKernel, type HostProfile } from "../helpers/hostFor.js";
import { skipForKernel } from "../helpers/skips.js";

const examples = join(import.meta.dirname, "..", "..", "examples");
const files = readdirSync(examples).filter((f) => f.endsWith(".yaml")).sort();
const profiles: HostProfile[] = [0, 1, 2].flatMap((rp) => [false, true].map((presets) => ({ rp: rp as 0 | 1 | 2, presets })));

function loader(file: string) {
  return () => {
    const r = loadConfigText(readFileSync(file, "utf8"), file);
    if (!r.ok) throw new Error(r.issues.map((i) => i.message).join("; "));
    return r.value;
  };
}

/** The rows of the matrix, for the note: example x profile x step. */
const matrix: string[] = [];

describe.skipIf(!isRoot)("convergence on distribution-like hosts", () => {
  afterAll(() => {
    if (process.env.CONVERGENCE_MATRIX) writeFileSync(process.env.CONVERGENCE_MATRIX, matrix.join("\n") + "\n");
  });

  for (const name of files) {
    const text = readFileSync(join(examples, name), "utf8");
    const needsVrf = /strategy:\s*vrf/.test(text);
    it(`${name}: every profile converges, re-applies silently, takes a variant and destroys cleanly`, async (ctx) => {
      const lab = new Lab("cv");
      try {
        const variant = variantOf(text);
        const file = configFile(text, name);
        const variantFile = configFile(variant.text, `variant-${name}`);
        for (const profile of profiles) {
          const label = `${name} rp_filter=${profile.rp} presets=${profile.presets ? "on" : "off"}`;
          await lab.teardown();
          await buildHostFor(lab, text, profile);
          const netns = lab.ns("h");
          if (needsVrf && (await probeFeature(new ProcessRunner(netns), "vrf")) !== null) {
            skipForKernel(ctx, "no vrf support");
          }
          // interfaces that existed before the profile: pin them too, as a host booted with it would
          await lab.exec("h", ["sysctl", "-q", "-w", ...profileSysctls(profile)]);
          const sysBefore = await touchableSysctls(lab, "h");
          const kernelBefore = await kernelSnapshot(lab, "h");

          const first = await reconcile({ netns, load: loader(file) });
          expect(first.outcome.rolledBack, `${label}: first apply`).toBeUndefined();
          expect(first.outcome.changed, label).toBe(true);
          const plan1 = (await planConfig(loader(file), { netns })).plan;
          expect(isEmptyPlan(plan1), `${label}: plan after apply\n${formatPlan(plan1)}`).toBe(true);

          const sysApplied = await touchableSysctls(lab, "h");
          const stop = await watchKernel(lab, "h");
          const second = await reconcile({ netns, load: loader(file) });
          const events = await stop();
          expect(second.outcome.changed, `${label}: second apply changed\n${formatPlan(second.outcome.plan)}`).toBe(false);
          expect(events, `${label}: kernel events during the second apply`).toBe("");
          expect(await touchableSysctls(lab, "h"), `${label}: sysctls after the second apply`).toBe(sysApplied);

          const third = await reconcile({ netns, load: loader(variantFile) });
          expect(third.outcome.rolledBack, `${label}: variant (${variant.change})`).toBeUndefined();
          const plan3 = (await planConfig(loader(variantFile), { netns })).plan;
          expect(isEmptyPlan(plan3), `${label}: plan of the variant\n${formatPlan(plan3)}`).toBe(true);

          const gone = await destroy({ netns });
          expect(gone.outcome.rolledBack, `${label}: destroy`).toBeUndefined();
          expect(await touchableSysctls(lab, "h"), `${label}: sysctls after destroy`).toBe(sysBefore);
          expect(await kernelSnapshot(lab, "h"), `${label}: kernel after destroy`).toBe(kernelBefore);
          matrix.push(`${label}: apply ok, plan empty, second apply 0 events, variant (${variant.change}) ok and plan empty, destroy restored`);
        }
      } finally {
        await lab.teardown();
      }
    });
  }
});
