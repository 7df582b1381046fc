#!/usr/bin/env bash
# Runs the service the way the README says: fetches Tableau's Extensions API library (pinned,
# checked; without network it says so and the page runs standalone), then the release build.
# Arguments go to the broker (`scripts/run.sh check-config`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-tableau-lib.sh || echo "continuing without it" >&2
exec cargo run --release -- "$@"
