#!/usr/bin/env bash
# The test command: installs what the tests need, builds everything and runs
# the whole suite. CI runs exactly this (.ci/run). Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 022  # moed refuses group/world-writable plugins and configs (docs/configuration.md)
scripts/install-deps.sh --with-llama-server
# Everything the tests, daemons, fuzzers and sanitizer runs write to a
# temporary folder goes into one of this run's own, removed at the end
# (kept when MOED_KEEP_TMP=1): left behind, each run's ~100 MiB of models
# and sockets filled the disk after a few dozen runs.
# 0755: the peer-access tests run moectl as another uid, which must reach
# the daemon's socket in there.
run_tmp=$(mktemp -d "${TMPDIR:-/tmp}/moed-run-XXXXXX")
chmod 755 "$run_tmp"
[ "${MOED_KEEP_TMP:-0}" = 1 ] && echo "[test] temporary files kept in $run_tmp" >&2 \
    || trap 'rm -rf "$run_tmp"' EXIT
export TMPDIR="$run_tmp"
export MOED_TEST_MODEL="${MOED_TEST_MODEL:-$PWD/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
swift build --build-tests
swift test --skip-build --parallel

# A short fuzz budget (about two minutes here; docs/reliability.md): a crash
# or a hang fails the run, its input saved under out/fuzz-ci. The surfaces'
# rates differ, so each gets its own count; FUZZ_SCALE multiplies them.
scale="${FUZZ_SCALE:-1}"
tools/fuzz/run.sh --surface gguf --cases $((20000 * scale)) --seed "${FUZZ_SEED:-1}" --out out/fuzz-ci
tools/fuzz/run.sh --surface config --cases $((100000 * scale)) --seed "${FUZZ_SEED:-1}" --out out/fuzz-ci
tools/fuzz/run.sh --surface frames --cases $((20000 * scale)) --seed "${FUZZ_SEED:-1}" --out out/fuzz-ci

# The Service and end-to-end tests under ASan and TSan, each in its own
# build folder: about 5 minutes of building each on two cores, under a
# minute of tests. MOED_TEST_SANITIZE=0 skips them (say so when you do).
if [ "${MOED_TEST_SANITIZE:-1}" != 0 ]; then
    scripts/sanitize.sh all
else
    echo "[test] sanitizer runs SKIPPED (MOED_TEST_SANITIZE=0)" >&2
fi
