/**
 * The house's layering (DESIGN "Inside the daemon"; issue 18, item 3), checked
 * in CI by dependency-cruiser: edges (cli, lab, daemon) call engine/ and the
 * pure folders; only engine/ drives apply/ and kernel/; kernel/ imports only
 * model/ and net/; render/ runs nothing. Any break fails the run.
 */
module.exports = {
  forbidden: [
    {
      name: "edges-not-into-kernel",
      comment: "cli/, lab/ and daemon/ reach the kernel through engine/ only",
      severity: "error",
      from: { path: "^src/(cli|daemon)/" },
      to: { path: "^src/(kernel|apply)/" },
    },
    {
      name: "lab-only-its-process-helper",
      comment: "lab/ builds its namespaces with the small process helpers of kernel/ (runner, background), nothing else of it",
      severity: "error",
      from: { path: "^src/lab/" },
      to: { path: "^src/(kernel|apply)/", pathNot: "^src/kernel/(runner|background)\\.ts$" },
    },
    {
      name: "kernel-is-the-bottom",
      comment: "kernel/ imports only model/ and net/ (and itself)",
      severity: "error",
      from: { path: "^src/kernel/" },
      to: { path: "^src/", pathNot: "^src/(kernel|model|net)/" },
    },
    {
      name: "pure-folders-run-nothing",
      comment: "only kernel/ runs commands or touches /proc: the pure folders never import it or node's process and file modules",
      severity: "error",
      // config/read.ts is the one reader of the config file itself
      from: { path: "^src/(model|net|config|compile|plan|maglev|simulate|render|bgp)/", pathNot: "^src/config/read\\.ts$" },
      to: { path: "^src/(kernel|apply|engine|daemon|cli|lab)/|^(node:)?(child_process|fs)$" },
    },
    {
      name: "only-engine-drives-apply",
      comment: "apply/ is driven by engine/ (and uses kernel/ below it)",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/(engine|apply)/" },
      to: { path: "^src/apply/" },
    },
    {
      name: "no-circular",
      severity: "warn",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
    exclude: { path: "^(dist|node_modules)/" },
  },
};
