#!/usr/bin/env bash
# The standing fuzz campaign, one command (docs/reliability.md):
#   tools/fuzz/run.sh [--surface gguf|frames|config|all] [--cases N] [--seed S] [--out DIR]
#                     [--release | --asan] [--timeout-ms T]
#   tools/fuzz/run.sh --replay gguf|config|frames FILE...
# gguf and config run in process (moefuzz, worker processes supervised so
# a crash or hang saves its input and the run goes on); frames runs against
# a live moed on the toy plugin (tools/fuzz/frames.py). Deterministic for a
# seed. Crashing and hanging inputs are saved under OUT/<surface>/; exits 1
# if there was any, 0 otherwise. Default: all surfaces, 10000 cases, seed 1,
# out/fuzz, debug build (--release: optimised, faster, same checks on
# integer overflow and bounds; --asan: AddressSanitizer build in
# .build-asan, moed included, for what Swift's checks cannot see in unsafe
# pointer code; a report ends the worker or moed and counts as a crash).
set -euo pipefail
cd "$(dirname "$0")/../.."
surface=all cases=10000 seed=1 out=out/fuzz config=debug timeout_ms=5000 replay=""
while [ $# -gt 0 ]; do
    case "$1" in
        --surface) surface=$2; shift 2 ;;
        --cases) cases=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --timeout-ms) timeout_ms=$2; shift 2 ;;
        --release) config=release; shift ;;
        --asan) config=asan; shift ;;
        --replay) replay=$2; shift 2; break ;;
        -h|--help) sed -n 2,16p "$0"; exit 0 ;;
        *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$surface" in gguf|frames|config|all) ;; *) echo "--surface: gguf, frames, config or all" >&2; exit 2 ;; esac

log() { printf '[fuzz] %s\n' "$*" >&2; }
log "building moefuzz, moed and the toy plugin ($config)"
build=(-c "$config")
if [ "$config" = asan ]; then
    build=(--sanitize=address --scratch-path .build-asan)
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
fi
for product in moefuzz moed moe_toy; do
    swift build "${build[@]}" --product "$product" >/dev/null
done
BIN=$(swift build "${build[@]}" --show-bin-path)
PYTHON=python3
[ -x .venv/bin/python ] && PYTHON=.venv/bin/python
MODEL="${MOED_TEST_MODEL:-$PWD/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
model_flags=()
if [ -f "$MODEL" ]; then model_flags=(--model "$MODEL"); else log "no $MODEL: GGUF seeds are the synthetic models only"; fi

if [ -n "$replay" ]; then
    case "$replay" in
        frames) exec "$PYTHON" tools/fuzz/frames.py replay --moed "$BIN/moed" --plugin-dir "$BIN" "$@" ;;
        *) exec "$BIN/moefuzz" replay --surface "$replay" "$@" ;;
    esac
fi

status=0
run_surface() {
    case "$1" in
        gguf) "$BIN/moefuzz" run --surface gguf --cases "$cases" --seed "$seed" --out "$out" \
                  --timeout-ms "$timeout_ms" "${model_flags[@]}" || status=1 ;;
        config) "$BIN/moefuzz" run --surface config --cases "$cases" --seed "$seed" --out "$out" \
                    --timeout-ms "$timeout_ms" || status=1 ;;
        frames) "$PYTHON" tools/fuzz/frames.py run --moed "$BIN/moed" --plugin-dir "$BIN" \
                    --cases "$cases" --seed "$seed" --out "$out" || status=1 ;;
    esac
}
if [ "$surface" = all ]; then
    for s in gguf config frames; do run_surface "$s"; done
else
    run_surface "$surface"
fi
[ "$status" -eq 0 ] && log "no crashes, no hangs" || log "crashes or hangs: inputs saved under $out"
exit "$status"
