#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, every Rust test (unit, integration
# against a mock provider, a real redis-server and a real headless Chromium), the JavaScript
# client's unit tests (node --test), and the deployment files' lint. Installs what it needs first. Ends with one summary line of the test counts.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --locked --no-fail-fast 2>&1 | tee "$log" || status=$?
node_log=$(mktemp)
trap 'rm -f "$log" "$node_log"' EXIT
node --test clients/js/test/ 2>&1 | tee "$node_log" || status=$?
scripts/lint-deploy.sh

passed=$(grep -Eo '^test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
failed=$(grep -Eo '; [0-9]+ failed' "$log" | awk '{s += $2} END {print s + 0}')
# node --test ends with "# pass N" / "# fail N".
passed=$((passed + $(awk '/^# pass /{s += $3} END {print s + 0}' "$node_log")))
failed=$((failed + $(awk '/^# fail /{s += $3} END {print s + 0}' "$node_log")))
echo "tests: $passed passed, $failed failed"
exit "$status"
