#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600) each, one after the other, one worker:
#   crates/fuzz/run.sh [SECONDS] [TARGET...]
# Needs the nightly toolchain (rustup toolchain install nightly); installs cargo-fuzz if missing.
#
# Each target starts from its committed seeds (crates/fuzz-targets/corpus/<target>, read only)
# and keeps what it finds in crates/fuzz/corpus/<target> (not committed). A crash stops the run
# with the input in crates/fuzz/artifacts/<target>/: fix it, then copy the input to
# crates/fuzz-targets/corpus/<target>/crash-<what> so `cargo test` replays it from then on.
# The log of each run is crates/fuzz/logs/<target>.log (its last lines: executions, exec/s, cov).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(federation_frame signed_heads sync_message sync_state api_request)
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
# The fuzz build (nightly, sanitizers) never shares a target directory with the stable builds.
target_dir="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$PWD/target}/fuzz}"
mkdir -p crates/fuzz/logs
for t in "${targets[@]}"; do
    echo "=== $t: ${seconds}s"
    mkdir -p "crates/fuzz/corpus/$t"
    # One process, one worker: libFuzzer's default. (-jobs=1 would be the same search, but in
    # a child process logging to ./fuzz-0.log.)
    status=0
    cargo +nightly fuzz run --fuzz-dir crates/fuzz --target-dir "$target_dir" "$t" \
        "crates/fuzz/corpus/$t" "crates/fuzz-targets/corpus/$t" \
        -- -max_total_time="$seconds" -print_final_stats=1 \
        >"crates/fuzz/logs/$t.log" 2>&1 || status=$?
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::number_of_executed_units|^stat::peak_rss|ERROR|panicked' \
        "crates/fuzz/logs/$t.log" || true
    if [ "$status" -ne 0 ]; then
        echo "=== $t FAILED (exit $status): see crates/fuzz/logs/$t.log and crates/fuzz/artifacts/$t/" >&2
        exit 1
    fi
done
