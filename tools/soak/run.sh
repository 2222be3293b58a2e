#!/usr/bin/env bash
# The soak, one command (docs/reliability.md):
#   tools/soak/run.sh [--minutes M] [--clients N] [--toy] [-- soak.py flags]
# Builds moed and the plugins (release), makes the default tiers' models
# (scripts/default-models.sh), starts moed with the three default tiers
# (haiku dense, sonnet 8x top-2 and opus 16x top-4 MoE, as scripts/start.sh
# does) on a socket of its own, and runs tools/soak/soak.py: N clients
# generating, a tier switch every second, a reload every 30 s, clients
# killed mid-stream, for M minutes (default 10, 64 clients). Prints every
# response counted by call and code, the pid check and RSS over time; exits
# 1 on any failure. --toy: the toy plugin instead (no model files; quick).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
minutes=10 clients=64 toy=0
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) minutes=$2; shift 2 ;;
        --clients) clients=$2; shift 2 ;;
        --toy) toy=1; shift ;;
        --) shift; break ;;
        -h|--help) sed -n 2,12p "$0"; exit 0 ;;
        *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
log() { printf '[soak] %s\n' "$*" >&2; }

log "building moed, moectl and the plugins (release)"
products=(moed moectl)
if [ "$toy" = 1 ]; then products+=(moe_toy); else products+=(moe_dense moe_moe); fi
for product in "${products[@]}"; do swift build -c release --product "$product" >/dev/null; done
BIN="$ROOT/.build/release"

RUN=$(mktemp -d /tmp/moed-soak-XXXXXX)
trap 'rm -rf "$RUN"' EXIT
if [ "$toy" = 1 ]; then
    printf '#toy step_ms=5 eos_after=200\nHello from the toy model. ' >"$RUN/toy.txt"
    printf '#toy step_ms=5 experts=8\nExperts recite this text. ' >"$RUN/toy-moe.txt"
    haiku=(toy "$RUN/toy.txt") sonnet=(toy "$RUN/toy-moe.txt") opus=(toy "$RUN/toy-moe.txt")
else
    scripts/default-models.sh "$BIN"
    haiku=(dense "$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    sonnet=(moe "$ROOT/models/SmolLM2-8x135M-top2.gguf")
    opus=(moe "$ROOT/models/SmolLM2-16x135M-top4.gguf")
fi
cat >"$RUN/moed.toml" <<TOML
# The default tiers of scripts/start.sh, on the soak's own socket.
[daemon]
socket = "$RUN/moed.sock"
socket_mode = "0600"
plugin_dir = "$BIN"
default_tier = "haiku"
threads = $(nproc)

[tiers.haiku]
plugin = "${haiku[0]}"
model = "${haiku[1]}"
context = 4096
keep_alive = "30m"

[tiers.sonnet]
plugin = "${sonnet[0]}"
model = "${sonnet[1]}"
context = 4096
keep_alive = "30m"

[tiers.opus]
plugin = "${opus[0]}"
model = "${opus[1]}"
context = 4096
keep_alive = "30m"
TOML

PYTHON=python3
[ -x .venv/bin/python ] && PYTHON=.venv/bin/python
log "moed log: $RUN/moed.log (removed at the end; kept as ./out/soak-moed.log)"
status=0
"$PYTHON" tools/soak/soak.py --moed "$BIN/moed" --config "$RUN/moed.toml" --socket "$RUN/moed.sock" \
    --minutes "$minutes" --clients "$clients" --log "$RUN/moed.log" "$@" || status=$?
mkdir -p out && cp "$RUN/moed.log" out/soak-moed.log 2>/dev/null || true
exit "$status"
