#!/usr/bin/env bash
# One command: moed vs llama.cpp, side by side, interleaved, medians.
#
#   bench/run.sh                 # every figure, REPEATS=5 runs each
#   REPEATS=3 FIGURES="decode prompt" bench/run.sh
#
# Prints a Markdown table (medians, ratios moed ÷ llama.cpp, fraction of the
# memory-bandwidth bound) and writes bench/results/latest.json. See
# docs/performance.md for what each figure measures.
set -euo pipefail
umask 022  # moed refuses group/world-writable configs and plugins (docs/configuration.md)

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
REPEATS="${REPEATS:-5}"
FIGURES="${FIGURES:-decode prompt streams moe service}"
DECODE_TOKENS="${DECODE_TOKENS:-128}"
STREAM_TOKENS="${STREAM_TOKENS:-64}"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
SCRATCH="$ROOT/.build-bench"
OUT="$ROOT/bench/results"
mkdir -p "$OUT" "$ROOT/models/bench"

say() { echo "== $*" >&2; }

# ---- llama.cpp in a venv ------------------------------------------------------
if ! "$PY" -c "import llama_cpp, gguf, numpy" 2>/dev/null; then
    say "installing llama-cpp-python, gguf and numpy into $VENV (builds llama.cpp: a few minutes)"
    [ -x "$PY" ] || python3 -m venv "$VENV"
    "$PY" -m pip install --quiet llama-cpp-python gguf numpy
fi

# ---- build ----------------------------------------------------------------------
say "building moebench (release, $SCRATCH)"
swift build -c release --scratch-path "$SCRATCH" --product moebench >&2
MOEBENCH="$SCRATCH/release/moebench"
cc -O2 -mavx2 -pthread bench/bandwidth.c -o "$SCRATCH/bandwidth"

# ---- models ---------------------------------------------------------------------
Q41="$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf"
requant() {  # $1 label, $2 llama ftype name; reuse the conformance harness's file when present
    local conf="$ROOT/models/conformance/SmolLM2-135M-Instruct.$1.gguf" own="$ROOT/models/bench/SmolLM2-135M-Instruct.$1.gguf"
    if [ -f "$conf" ]; then echo "$conf"; return; fi
    if [ ! -f "$own" ]; then
        say "requantizing $Q41 to $1 with llama_model_quantize"
        "$PY" - "$Q41" "$own" "$2" >&2 <<'PYEOF'
import ctypes, sys
import llama_cpp.llama_cpp as ll
p = ll.llama_model_quantize_default_params()
p.ftype = getattr(ll, sys.argv[3]); p.allow_requantize = True; p.nthread = 2
sys.exit(ll.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), ctypes.byref(p)))
PYEOF
    fi
    echo "$own"
}
declare -A MODELS=([q4_1]="$Q41" [q8_0]="$(requant Q8_0 LLAMA_FTYPE_MOSTLY_Q8_0)" [q4_k_m]="$(requant Q4_K_M LLAMA_FTYPE_MOSTLY_Q4_K_M)")
MOE_LABELS=()
if [[ " $FIGURES " == *" moe "* ]]; then
    MOE="$ROOT/models/bench/SmolLM2-8x2-upcycled.Q4_1.gguf"
    if [ ! -f "$MOE" ]; then
        say "upcycling $Q41 to 8 experts, top-2 (moectl upcycle)"
        if swift build -c release --scratch-path "$SCRATCH" --product moectl >&2; then
            "$SCRATCH/release/moectl" upcycle --model "$Q41" --out "$MOE" --experts 8 --experts-used 2 --noise 0.01 --seed 1 >&2 || true
        fi
    fi
    if [ -f "$MOE" ]; then MODELS[moe_8x2]="$MOE"; MOE_LABELS=(moe_8x2); else say "no MoE file: MoE figures skipped"; fi
fi

# ---- environment, bandwidth, bytes per token ------------------------------------
ENV_JSON="$OUT/env.json"; BW_JSON="$OUT/bandwidth.json"; BYTES="$OUT/bytes.jsonl"; RESULTS="$OUT/runs.jsonl"
FLAGS="$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|f16c|avx512f|avx512bw|avx512_vnni|avx_vnni|avx512vnni)$' | tr '\n' ' ')"
CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
say "CPU: $CPU; flags: $FLAGS; load: $LOAD_START"
say "measuring read bandwidth (1 GiB buffer)"
"$SCRATCH/bandwidth" 1024 > "$BW_JSON"
cat "$BW_JSON" >&2
: > "$BYTES"
for label in "${!MODELS[@]}"; do
    "$PY" bench/model_bytes.py "${MODELS[$label]}" | "$PY" -c "import json,sys; d=json.load(sys.stdin); d['label']='$label'; print(json.dumps(d))" >> "$BYTES"
done

# ---- runs: each figure alternates engines, and which goes first, every repeat ----
: > "$RESULTS"
one() {  # engine label figure size threads extra...
    local engine=$1 label=$2 figure=$3 size=$4 threads=$5; shift 5
    local model="${MODELS[$label]}" line
    if [ "$engine" = moed ]; then
        line="$("$MOEBENCH" "$figure" --model "$model" --threads "$threads" "$@")" || { say "moebench failed: $figure $label"; return; }
    else
        line="$("$PY" bench/llama_bench.py "$figure" --model "$model" --threads "$threads" "$@" 2>/dev/null)" || { say "llama_bench failed: $figure $label"; return; }
    fi
    echo "$line" | "$PY" -c "import json,sys; d=json.load(sys.stdin); d.update(label='$label', size=$size); print(json.dumps(d))" >> "$RESULTS"
    echo "   $engine $figure $label size=$size t=$threads: $(echo "$line" | grep -o '"tokens_per_second": *[0-9.]*')" >&2
}
pair() {  # repeat label figure size threads extra...
    local r=$1; shift
    if (( r % 2 == 0 )); then one moed "$@"; one llama "$@"; else one llama "$@"; one moed "$@"; fi
}
for r in $(seq 1 "$REPEATS"); do
    say "repeat $r of $REPEATS"
    for t in 1 2; do
        if [[ " $FIGURES " == *" decode "* ]]; then
            for label in q4_1 q8_0 q4_k_m; do pair "$r" "$label" decode 0 "$t" --tokens "$DECODE_TOKENS"; done
        fi
        if [[ " $FIGURES " == *" prompt "* ]]; then
            for n in 128 512; do pair "$r" q4_1 prompt "$n" "$t" --tokens "$n"; done
        fi
        if [[ " $FIGURES " == *" streams "* ]]; then
            pair "$r" q4_1 streams 4 "$t" --streams 4 --tokens "$STREAM_TOKENS"
        fi
        for label in "${MOE_LABELS[@]}"; do pair "$r" "$label" decode 0 "$t" --tokens "$DECODE_TOKENS"; done
    done
done

# ---- service: a moed with two tiers, driven over its socket ------------------------
SERVICE="$OUT/service.jsonl"
: > "$SERVICE"
if [[ " $FIGURES " == *" service "* ]]; then
    say "building moed and the dense plugin (release)"
    if swift build -c release --scratch-path "$SCRATCH" --product moed >&2 &&
       swift build -c release --scratch-path "$SCRATCH" --product moe_dense >&2; then
        RUNDIR="$(mktemp -d /tmp/moed-bench.XXXXXX)"
        cat > "$RUNDIR/moed.toml" <<TOML
[daemon]
socket = "$RUNDIR/moed.sock"
plugin_dir = "$SCRATCH/release"
default_tier = "haiku"
threads = 2

[tiers.haiku]
plugin = "dense"
model = "${MODELS[q4_1]}"
context = 4096

[tiers.sonnet]
plugin = "dense"
model = "${MODELS[q8_0]}"
context = 4096
TOML
        "$SCRATCH/release/moed" --config "$RUNDIR/moed.toml" > "$RUNDIR/moed.log" 2>&1 &
        MOED_PID=$!
        for _ in $(seq 1 100); do [ -S "$RUNDIR/moed.sock" ] && break; sleep 0.1; done
        for r in $(seq 1 "$REPEATS"); do
            MOED_SOCKET="$RUNDIR/moed.sock" MOED_PID=$MOED_PID BENCH_TIER=haiku BENCH_OTHER_TIER=sonnet \
                "$MOEBENCH" service --model "${MODELS[q4_1]}" --threads 2 --tokens "$DECODE_TOKENS" >> "$SERVICE" \
                || say "service figures failed (see $RUNDIR/moed.log)"
        done
        kill -TERM "$MOED_PID" 2>/dev/null || true
        wait "$MOED_PID" 2>/dev/null || true
    else
        say "moed did not build: service figures skipped"
    fi
fi

LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" -c "import json; print(json.dumps({'cpu': '''$CPU''', 'flags': '''$FLAGS'''.strip(), 'load_start': '$LOAD_START', 'load_end': '$LOAD_END', 'repeats': $REPEATS, 'decode_tokens': $DECODE_TOKENS, 'commit': '$(git rev-parse --short HEAD)'}))" > "$ENV_JSON"
"$PY" bench/report.py "$RESULTS" "$BW_JSON" "$BYTES" "$ENV_JSON" "$OUT/latest.json" "$SERVICE" | tee "$OUT/latest.md"
