#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, every Rust test (unit, integration
# against a mock provider, a real redis-server and a real headless Chromium), and the deployment
# files' lint. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked --no-fail-fast
scripts/lint-deploy.sh
