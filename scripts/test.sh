#!/usr/bin/env bash
# Runs every test tier (pure, recorder, kernel) and ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
# a build that does not type-check fails the run
npx tsc -p tsconfig.json --noEmit 2>&1 | grep -v 'Unknown user config'
tsc_status=${PIPESTATUS[0]}
# the house's layering (.dependency-cruiser.cjs): an import that breaks it fails the run
npx depcruise src --config .dependency-cruiser.cjs --output-type err 2>&1 | grep -v 'Unknown user config'
layers_status=${PIPESTATUS[0]}
report=$(mktemp)
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" 2>&1 | grep -v 'Unknown user config'
vitest_status=${PIPESTATUS[0]}
node scripts/count.mjs "$report" "$tsc_status" "$layers_status"
count_status=$?
rm -f "$report"
[ "$vitest_status" = 0 ] && [ "$tsc_status" = 0 ] && [ "$layers_status" = 0 ] && [ "$count_status" = 0 ]
