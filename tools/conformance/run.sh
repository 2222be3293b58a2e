#!/usr/bin/env bash
# One command: moectl against llama.cpp on the same GGUF files, one table.
#
#   tools/conformance/run.sh [--only tokenize,kernels,f32,quant,moe,arch] [--quick] [--threads N]
#
# Sets up <repo>/.venv (numpy, gguf, llama-cpp-python; the last builds
# llama.cpp from source, 4–8 minutes, needs apt cmake + build-essential),
# fetches the default model like the project's setup does, builds moectl
# (release, scratch .build-conformance; MOECTL=/path skips the build), makes
# derived files into <repo>/models/conformance/ (reused), runs the checks,
# prints the Markdown table, writes models/conformance/report.json and exits
# non-zero if any check fails.
set -euo pipefail
CALLER="$PWD"
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="$REPO/.venv"
log() { printf '[conformance] %s\n' "$*" >&2; }

need_build_tools() {
    command -v cmake >/dev/null && command -v c++ >/dev/null && return 0
    log "apt: installing cmake build-essential (llama-cpp-python compiles llama.cpp)"
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq cmake build-essential >/dev/null
}

setup_venv() {
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    if ! "$VENV/bin/python" -c "import numpy, gguf" 2>/dev/null; then
        log "venv: installing numpy gguf"
        "$VENV/bin/python" -m pip install --quiet numpy gguf
    fi
    if ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
        need_build_tools
        log "venv: installing llama-cpp-python (builds llama.cpp, several minutes)"
        "$VENV/bin/python" -m pip install --quiet llama-cpp-python
    fi
}

fetch_model() {
    # The project's own setup fetches and sha256-checks the default model;
    # moeconf checks it again and fetches it itself if that script is absent.
    if [ -x "$REPO/scripts/install-deps.sh" ]; then
        "$REPO/scripts/install-deps.sh" || log "scripts/install-deps.sh failed; moeconf will fetch the model"
    fi
}

build_moectl() {
    if [ -n "${MOECTL:-}" ]; then echo "$MOECTL"; return; fi
    log "building moectl (release, .build-conformance)"
    if ! (cd "$REPO" && swift build -c release --scratch-path .build-conformance --product moectl >&2); then
        log "moectl did not build: every moectl-side row will fail with the reason"
    fi
    echo "$REPO/.build-conformance/release/moectl"
}

setup_venv
fetch_model
BIN="$(build_moectl)"
# --json-out relative to where run.sh was called from (moeconf runs in $HERE)
args=(); after_json_out=0
for a in "$@"; do
    if [ "$after_json_out" = 1 ] && [[ "$a" != /* ]]; then a="$CALLER/$a"; fi
    if [[ "$a" == --json-out=* && "${a#--json-out=}" != /* ]]; then a="--json-out=$CALLER/${a#--json-out=}"; fi
    [ "$a" = --json-out ] && after_json_out=1 || after_json_out=0
    args+=("$a")
done
cd "$HERE"
exec "$VENV/bin/python" -m moeconf --repo "$REPO" --moectl "$BIN" "${args[@]}"
