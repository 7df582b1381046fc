#!/usr/bin/env bash
# Fuzzes the parsers of outside input with cargo-fuzz (libFuzzer), each target for a fixed time.
# Not part of CI: run it by hand, or on a schedule, on a machine with cores to spare.
#
#   scripts/fuzz.sh                      every target, 60 seconds each
#   scripts/fuzz.sh 300                  every target, 5 minutes each
#   scripts/fuzz.sh 60 client_frame      one target
#   FUZZ_JOBS=4 scripts/fuzz.sh 600      four libFuzzer workers per target
#
# Targets (fuzz/fuzz_targets/): client_frame (WebSocket frames), callback_query (the /complete
# query string), sealed_handle (refresh handles, arbitrary and tampered), resume_param (the /ws
# query, Origin values, typed confirmation codes).
#
# Needs a nightly toolchain (cargo-fuzz builds with -Zsanitizer=address) and installs cargo-fuzz
# when missing. Without nightly it says so and falls back to what stable can do: building the
# targets without instrumentation and replaying the seeds and any saved corpus through them, then
# the property tests (tests/api/properties/), which cover the same parsers.
#
# Findings: a crash stops the target and leaves the input under fuzz/artifacts/<target>/; replay
# it with `cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>`. New interesting
# inputs accumulate in fuzz/corpus/<target>/ (not committed; seeds are in fuzz/seeds/).
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_TARGETS=(client_frame callback_query sealed_handle resume_param)
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${ALL_TARGETS[@]}")
jobs="${FUZZ_JOBS:-1}"

if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
    echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]; targets: ${ALL_TARGETS[*]}" >&2
    exit 2
fi
for target in "${targets[@]}"; do
    if [ ! -f "fuzz/fuzz_targets/$target.rs" ]; then
        echo "fuzz.sh: no target '$target'; targets: ${ALL_TARGETS[*]}" >&2
        exit 2
    fi
done

replay_on_stable() {
    echo "fuzz.sh: falling back to replaying seeds and saved corpus on stable (no coverage-guided fuzzing)." >&2
    cargo build --manifest-path fuzz/Cargo.toml --release --bins
    for target in "${targets[@]}"; do
        inputs=()
        for dir in "fuzz/seeds/$target" "fuzz/corpus/$target"; do
            [ -d "$dir" ] && inputs+=("$dir")
        done
        echo "== replay $target: ${inputs[*]:-no inputs}"
        # With directories as arguments libFuzzer runs every file in them once and exits.
        [ ${#inputs[@]} -gt 0 ] && "fuzz/target/release/$target" -runs=0 "${inputs[@]}"
    done
    echo "== property tests over the same parsers"
    cargo test --test api properties::
    echo "fuzz.sh: replay and properties passed; NO fuzzing ran (install a nightly toolchain for that)." >&2
}

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzz.sh: cargo-fuzz needs a nightly toolchain and none is installed." >&2
    if rustup toolchain install nightly --profile minimal >&2; then
        echo "fuzz.sh: installed nightly." >&2
    else
        echo "fuzz.sh: could not install nightly (offline?). To fuzz: rustup toolchain install nightly" >&2
        replay_on_stable
        exit 0
    fi
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

failed=()
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target"
    echo "== fuzz $target for ${seconds}s (${jobs} job(s))"
    parallel=()
    # libFuzzer's -jobs sends each worker's output to fuzz-N.log; one job stays in the terminal.
    [ "$jobs" -gt 1 ] && parallel=(-jobs="$jobs" -workers="$jobs")
    if ! cargo +nightly fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
        "${parallel[@]}"; then
        failed+=("$target")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: crashes in: ${failed[*]}; inputs are under fuzz/artifacts/" >&2
    exit 1
fi
echo "fuzz.sh: ${#targets[@]} target(s), ${seconds}s each, no crash"
