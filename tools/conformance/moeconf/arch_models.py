"""Tiny all-F32 dense models of each architecture family beyond Llama, written
with the `gguf` package for the llama.cpp comparison (the Swift tests write
the same shapes with the project's own writer and check them against a
Double reference).

Like moe_models, each borrows the default model's tokenizer (gpt2 BPE,
pre-tokenizer smollm) so that real prompts tokenize: llama.cpp takes the
tokenizer from the file whatever the architecture. The weights are seeded
uniform noise; norm weights sit around 1 and are written as stored (Gemma's
converter already added the 1 of its (1 + w) norms).

Each family's keys are chosen so that its features bite on short prompts:
a sliding window of 8 positions (prompts plus 32 generated tokens pass it),
soft caps small enough that tanh bends, a LongRoPE original context below
the test context so the long factors are the ones used.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import gguf
import numpy as np

from .moe_models import _tokenizer_fields

EMBD, HEADS, KV_HEADS, FF = 64, 4, 2, 96


@dataclass
class Family:
    label: str
    arch: str
    layers: int = 2
    head: int = EMBD // HEADS            # attention.key_length (written when != EMBD // HEADS)
    ctx: int = 512
    rope_base: float = 10000.0
    rope_dims: int | None = None         # rope.dimension_count (partial rope when < head)
    qk_norm: bool = False                # per-head attn_{q,k}_norm (Qwen3, Gemma 3)
    post_norms: bool = False             # post_attention_norm / post_ffw_norm (Gemma 2/3)
    fused: bool = False                  # attn_qkv and ffn_up holding gate|up (Phi-3)
    tied: bool = False                   # no output.weight
    rope_freqs: bool = False             # Llama 3.1 rope_freqs.weight
    longrope_orig: int = 0               # > 0: rope_factors_long/short with this original context
    keys: dict = field(default_factory=dict)  # extra "<arch>.KEY": value
    # Logits within this of llama.cpp's. GeGLU families get 2e-3: ggml's CPU
    # GELU rounds its input to half precision and reads a half table, so a
    # gate value that lands on the other side of a rounding boundary (our
    # products differ from ggml's in the last bits) jumps by half an ulp of
    # half precision; seen as 1e-3 jumps on some prompts, 4e-6 on others.
    logit_bound: float = 1e-4


FAMILIES = [
    Family("qwen3-dense", "qwen3", qk_norm=True),
    Family("gemma3-swa", "gemma3", layers=7, head=32, rope_base=1_000_000.0, qk_norm=True, post_norms=True,
           tied=True, logit_bound=2e-3, keys={"attention.sliding_window": 8, "rope.scaling.type": "linear",
                            "rope.scaling.factor": 8.0, "attention.layer_norm_rms_epsilon": 1e-6}),
    # Gemma 3 with the keys llama.cpp reads when present: a layer period of
    # 3, a local RoPE base, a final soft cap (an attention cap it ignores).
    Family("gemma3-file-keys", "gemma3", layers=4, head=32, rope_base=1_000_000.0, qk_norm=True, post_norms=True,
           tied=True, logit_bound=2e-3, keys={"attention.sliding_window": 8, "attention.sliding_window_pattern": 3,
                                              "rope.freq_base_swa": 500.0, "final_logit_softcapping": 5.0,
                                              "attn_logit_softcapping": 2.0,
                                              "attention.layer_norm_rms_epsilon": 1e-6}),
    Family("gemma1", "gemma", tied=True, logit_bound=2e-3, keys={"attention.layer_norm_rms_epsilon": 1e-6}),
    Family("gemma2-softcap", "gemma2", layers=4, post_norms=True, tied=True, logit_bound=2e-3,
           keys={"attention.sliding_window": 8, "attn_logit_softcapping": 8.0,
                 "final_logit_softcapping": 6.0, "attention.layer_norm_rms_epsilon": 1e-6}),
    Family("phi3-longrope", "phi3", rope_dims=12, fused=True, longrope_orig=32,
           keys={"rope.scaling.attn_factor": 1.1}),
    Family("phi3-shortrope", "phi3", rope_dims=12, fused=True, ctx=4096, longrope_orig=4096,
           keys={"rope.scaling.attn_factor": 1.1}),
    Family("llama31-rope-freqs", "llama", rope_base=500000.0, rope_freqs=True),
]


def llama3_rope_factors(dims: int, base: float, factor: float = 8.0, low: float = 1.0, high: float = 4.0,
                        original: int = 64) -> np.ndarray:
    """Llama 3.1's per-pair divisors, as the converter computes them (a small
    original context so that every regime appears among few pairs)."""
    out = []
    for i in range(0, dims, 2):
        wavelength = 2 * math.pi * base ** (i / dims)
        low_wavelength, high_wavelength = original / low, original / high
        if wavelength < high_wavelength:
            out.append(1.0)
        elif wavelength > low_wavelength:
            out.append(factor)
        else:
            smooth = (original / wavelength - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def write(fam: Family, tokenizer_model: str, dst: str, seed: int = 4321) -> str:
    """Writes `fam` to `dst` once (kept in the cache afterwards)."""
    if os.path.exists(dst):
        return dst
    reader = gguf.GGUFReader(tokenizer_model)
    vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    rng = np.random.default_rng(seed)
    tmp = dst + ".part"
    w = gguf.GGUFWriter(tmp, fam.arch)
    a = fam.arch
    rope_dims = fam.rope_dims or fam.head
    w.add_uint32(f"{a}.context_length", fam.ctx)
    w.add_uint32(f"{a}.embedding_length", EMBD)
    w.add_uint32(f"{a}.block_count", fam.layers)
    w.add_uint32(f"{a}.feed_forward_length", FF)
    w.add_uint32(f"{a}.attention.head_count", HEADS)
    w.add_uint32(f"{a}.attention.head_count_kv", KV_HEADS)
    if fam.head != EMBD // HEADS:
        w.add_uint32(f"{a}.attention.key_length", fam.head)
        w.add_uint32(f"{a}.attention.value_length", fam.head)
    if "attention.layer_norm_rms_epsilon" not in fam.keys:
        w.add_float32(f"{a}.attention.layer_norm_rms_epsilon", 1e-5)
    w.add_float32(f"{a}.rope.freq_base", fam.rope_base)
    w.add_uint32(f"{a}.rope.dimension_count", rope_dims)
    if fam.longrope_orig:
        w.add_string(f"{a}.rope.scaling.type", "longrope")
        w.add_uint32(f"{a}.rope.scaling.original_context_length", fam.longrope_orig)
    for key, value in fam.keys.items():
        if isinstance(value, str):
            w.add_string(f"{a}.{key}", value)
        elif isinstance(value, float):
            w.add_float32(f"{a}.{key}", value)
        else:
            w.add_uint32(f"{a}.{key}", value)
    for name, value, vtype, sub in _tokenizer_fields(reader):
        w.add_key_value(name, value, vtype, sub_type=sub)

    def add(name: str, ggml_shape: list[int], scale: float, offset: float = 0.0) -> None:
        values = offset + scale * rng.uniform(-1, 1, size=list(reversed(ggml_shape)))
        w.add_tensor(name, values.astype(np.float32))

    add("token_embd.weight", [EMBD, vocab], 0.5)
    if fam.rope_freqs:
        w.add_tensor("rope_freqs.weight", llama3_rope_factors(rope_dims, fam.rope_base))
    if fam.longrope_orig:
        add("rope_factors_long.weight", [rope_dims // 2], 1.5, 2.5)   # 1 … 4
        add("rope_factors_short.weight", [rope_dims // 2], 0.05, 1.05)
    q, kv = HEADS * fam.head, KV_HEADS * fam.head
    for i in range(fam.layers):
        p = f"blk.{i}."
        add(p + "attn_norm.weight", [EMBD], 0.2, 1.0)
        if fam.fused:
            add(p + "attn_qkv.weight", [EMBD, q + 2 * kv], 0.3)
        else:
            add(p + "attn_q.weight", [EMBD, q], 0.3)
            add(p + "attn_k.weight", [EMBD, kv], 0.3)
            add(p + "attn_v.weight", [EMBD, kv], 0.3)
        add(p + "attn_output.weight", [q, EMBD], 0.3)
        if fam.qk_norm:
            add(p + "attn_q_norm.weight", [fam.head], 0.2, 1.0)
            add(p + "attn_k_norm.weight", [fam.head], 0.2, 1.0)
        if fam.post_norms:
            # larger than the others so the blocks are not drowned by the √d-scaled embedding
            add(p + "post_attention_norm.weight", [EMBD], 0.5, 3.0)
            add(p + "post_ffw_norm.weight", [EMBD], 0.5, 3.0)
        add(p + "ffn_norm.weight", [EMBD], 0.2, 1.0)
        if fam.fused:
            add(p + "ffn_up.weight", [EMBD, 2 * FF], 0.3)
        else:
            add(p + "ffn_gate.weight", [EMBD, FF], 0.3)
            add(p + "ffn_up.weight", [EMBD, FF], 0.3)
        add(p + "ffn_down.weight", [FF, EMBD], 0.3)
    add("output_norm.weight", [EMBD], 0.2, 1.0)
    if not fam.tied:
        add("output.weight", [EMBD, vocab], 0.5)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, dst)
    return dst
