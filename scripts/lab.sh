#!/usr/bin/env bash
# The main job: install what is missing, build, and run `symroute lab` (all scenarios, or the one named).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node bin/symroute.js lab "$@"
