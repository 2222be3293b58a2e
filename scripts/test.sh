#!/usr/bin/env bash
# The test command: installs what the tests need, builds everything and runs
# the whole suite. CI runs exactly this (.ci/run). Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export MOED_TEST_MODEL="${MOED_TEST_MODEL:-$PWD/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
swift build --build-tests
swift test --skip-build --parallel
