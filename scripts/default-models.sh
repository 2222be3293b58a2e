#!/usr/bin/env bash
# Makes the default tiers' MoE models (once) with the release moectl:
# SmolLM2 upcycled, each FFN copied into N experts with a little seeded
# noise, and a seeded router (docs/moe.md). Used by scripts/start.sh and
# tools/soak/run.sh; prints nothing when the files exist.
#   scripts/default-models.sh BIN_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$1"
MODELS="$PWD/models"
DENSE="$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf"
upcycle() {  # out experts used
    [ -f "$1" ] && return 0
    printf '[models] making %s: %s experts, %s used per token\n' "$(basename "$1")" "$2" "$3" >&2
    # moectl writes OUT.partial and renames it: a stopped run leaves no half file.
    "$BIN/moectl" upcycle --model "$DENSE" --out "$1" --experts "$2" --experts-used "$3" \
        --noise 0.01 --seed 1 --expert-type same
}
upcycle "$MODELS/SmolLM2-8x135M-top2.gguf" 8 2
upcycle "$MODELS/SmolLM2-16x135M-top4.gguf" 16 4
