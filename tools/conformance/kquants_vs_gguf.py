#!/usr/bin/env python3
"""Compare moed's K-quant and IQ4 dequantization with the gguf package's (numpy port
of ggml) on random blocks. Bit-exact equality is required.

Run from the repository root:  .venv/bin/python tools/conformance/kquants_vs_gguf.py
"""
import pathlib, subprocess, sys, tempfile
import numpy as np
import gguf
from gguf.quants import dequantize

ROOT = pathlib.Path(__file__).resolve().parents[2]
SRC = ROOT / "Sources" / "CKernels"
TYPES = {"q2_K": gguf.GGMLQuantizationType.Q2_K, "q3_K": gguf.GGMLQuantizationType.Q3_K,
         "q4_K": gguf.GGMLQuantizationType.Q4_K, "q5_K": gguf.GGMLQuantizationType.Q5_K,
         "q6_K": gguf.GGMLQuantizationType.Q6_K, "iq4_nl": gguf.GGMLQuantizationType.IQ4_NL,
         "iq4_xs": gguf.GGMLQuantizationType.IQ4_XS}
# Byte offsets of the f16 fields in each block (d, and dmin where present).
HALF_OFFSETS = {"q2_K": [80, 82], "q3_K": [108], "q4_K": [0, 2], "q5_K": [0, 2], "q6_K": [208],
                "iq4_nl": [0], "iq4_xs": [0]}


def build(tmp):
    exe = pathlib.Path(tmp) / "kquants_dequant_cli"
    srcs = [str(SRC / "kquants_dequant.c"), str(SRC / "kquants2_ref.c"),
            str(pathlib.Path(__file__).parent / "kquants_dequant_cli.c")]
    subprocess.run(["clang", "-O2", "-I", str(SRC / "include"), "-I", str(SRC), *srcs, "-o", str(exe)], check=True)
    return exe


def random_blocks(name, count, rng):
    _, block_bytes = gguf.GGML_QUANT_SIZES[TYPES[name]]
    raw = rng.integers(0, 256, size=(count, block_bytes), dtype=np.uint8)
    # Random bytes for every field, but finite halves (inf/NaN scales would
    # only test NaN propagation); include subnormals, zeros and negatives.
    halves = rng.standard_normal(count * 2).astype(np.float16) * np.float16(0.01)
    halves[:4] = [0, np.float16(6e-8), np.float16(-3e-5), np.float16(60000)]
    for k, off in enumerate(HALF_OFFSETS[name]):
        raw[:, off:off + 2] = halves[k * count:(k + 1) * count].view(np.uint8).reshape(count, 2)
    return raw


def main():
    rng = np.random.default_rng(1234)
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        exe = build(tmp)
        for name, qtype in TYPES.items():
            blocks = random_blocks(name, 2000, rng)
            expected = dequantize(blocks, qtype).astype(np.float32).ravel()
            out = subprocess.run([str(exe), name], input=blocks.tobytes(), capture_output=True, check=True).stdout
            got = np.frombuffer(out, dtype=np.float32)
            same = np.array_equal(got.view(np.uint32), expected.view(np.uint32))
            diff = int(np.count_nonzero(got.view(np.uint32) != expected.view(np.uint32)))
            print(f"{name}: {blocks.shape[0]} blocks, {got.size} values, bit-exact={same}, differing={diff}")
            failures += 0 if same else 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
