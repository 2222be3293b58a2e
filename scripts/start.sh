#!/usr/bin/env bash
# The main job in one command: installs what is needed, builds moed, moectl
# and the backend plugins (release), makes the default tiers' models, starts
# moed with them in the background, and answers a `moectl generate`.
# Safe to run twice: models are made once, and a daemon left by an earlier
# run is stopped (drained) and started anew on the fresh build.
set -euo pipefail
# moed refuses plugins and configs in group- or world-writable places
# (docs/configuration.md), so nothing made here may be.
umask 022
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN="$ROOT/run"
BIN="$ROOT/.build/release"
MODELS="$ROOT/models"
DENSE="$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf"
SONNET="$MODELS/SmolLM2-8x135M-top2.gguf"
OPUS="$MODELS/SmolLM2-16x135M-top4.gguf"
log() { printf '[start] %s\n' "$*" >&2; }

scripts/install-deps.sh

log "building moed, moectl and the plugins (release)"
swift build -c release --product moed
swift build -c release --product moectl
swift build -c release --product moe_dense
swift build -c release --product moe_moe
swift build -c release --product moe_remote  # for remote tiers (docs/scaling.md)

# The MoE tiers are SmolLM2 upcycled (scripts/default-models.sh, docs/moe.md).
scripts/default-models.sh "$BIN"

mkdir -p "$RUN"
chmod go-w "$RUN" "$BIN"  # folders an earlier run may have made under another umask
cat > "$RUN/moed.toml" <<TOML
# Written by scripts/start.sh; see docs/configuration.md for every key.
[daemon]
socket = "$RUN/moed.sock"
socket_mode = "0600"
plugin_dir = "$BIN"
default_tier = "haiku"
threads = $(nproc)

[tiers.haiku]
plugin = "dense"
model = "$DENSE"
context = 4096
keep_alive = "30m"

[tiers.sonnet]
plugin = "moe"
model = "$SONNET"
context = 4096
keep_alive = "30m"

[tiers.opus]
plugin = "moe"
model = "$OPUS"
context = 4096
keep_alive = "30m"

# A tier served by an OpenAI-compatible engine elsewhere (vLLM, llama-server):
# [tiers.big]
# plugin = "remote"
# url = "http://gpu-box:8000/v1"
# remote_model = "Qwen/Qwen2.5-72B-Instruct"
TOML

scripts/stop.sh
log "starting moed (log: $RUN/moed.log)"
nohup "$BIN/moed" --config "$RUN/moed.toml" >"$RUN/moed.log" 2>&1 &
echo $! > "$RUN/moed.pid"
export MOED_SOCKET="$RUN/moed.sock"
for _ in $(seq 1 100); do
    "$BIN/moectl" status >/dev/null 2>&1 && break
    kill -0 "$(cat "$RUN/moed.pid")" 2>/dev/null || { log "moed exited:"; cat "$RUN/moed.log" >&2; exit 1; }
    sleep 0.1
done

"$BIN/moectl" status
"$BIN/moectl" tiers
log "asking the default tier (haiku) for a completion"
"$BIN/moectl" generate --max-tokens 48 "Write one sentence about the sea."
cat <<MSG

moed is running (pid $(cat "$RUN/moed.pid")), serving haiku, sonnet and opus on $RUN/moed.sock.
  export MOED_SOCKET=$RUN/moed.sock
  $BIN/moectl chat --tier sonnet "Name three rivers in Europe."
  $BIN/moectl use opus
  scripts/stop.sh

The OpenAI-compatible HTTP gateway is optional (docs/gateway.md); on loopback:
  swift build -c release --product moegate
  $BIN/moegate --socket $RUN/moed.sock --listen 127.0.0.1:8080 &
  curl -s http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \\
       -d '{"model": "haiku", "messages": [{"role": "user", "content": "Hi"}]}'
MSG
