"""Tiny all-F32 MoE models of each family, written with the `gguf` package
for the llama.cpp comparison (the Swift tests write the same shapes with the
project's own writer and check them against a Double reference).

Each borrows the default model's tokenizer (gpt2 BPE, pre-tokenizer smollm)
so that real prompts tokenize; the weights are seeded uniform noise.
Shapes are given in ggml order ([ne0, ne1, ...]); numpy wants them reversed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import gguf
import numpy as np

EMBD, LAYERS, HEADS, KV_HEADS, FF, CTX = 64, 2, 4, 2, 32, 512
HEAD = EMBD // HEADS


@dataclass
class Family:
    label: str
    arch: str
    experts: int
    used: int
    biases: bool = False                 # attn_{q,k,v}.bias (Qwen2)
    qk_norm: str = ""                    # "" | "head" (Qwen3) | "whole" (OLMoE)
    shared_ff: int = 0                   # > 0: sigmoid-gated shared expert (Qwen2-MoE)
    expert_ff_key: bool = False          # write expert_feed_forward_length (Qwen)
    kv_heads: int = KV_HEADS             # OLMoE has no GQA: its k norm spans n_embd


FAMILIES = [
    Family("mixtral-8x2", "llama", 8, 2),
    Family("olmoe-8x2", "olmoe", 8, 2, qk_norm="whole", kv_heads=HEADS),
    Family("qwen2moe-8x2-shared", "qwen2moe", 8, 2, biases=True, shared_ff=64, expert_ff_key=True),
    Family("qwen3moe-8x2", "qwen3moe", 8, 2, qk_norm="head", expert_ff_key=True),
    Family("olmoe-64x8", "olmoe", 64, 8, qk_norm="whole", kv_heads=HEADS),
]


def _tokenizer_fields(reader: gguf.GGUFReader):
    for f in reader.fields.values():
        if f.name.startswith("tokenizer."):
            sub = f.types[-1] if f.types[0] == gguf.GGUFValueType.ARRAY else None
            yield f.name, f.contents(), f.types[0], sub


def write(fam: Family, tokenizer_model: str, dst: str, seed: int = 1234) -> str:
    """Writes `fam` to `dst` once (kept in the cache afterwards)."""
    if os.path.exists(dst):
        return dst
    reader = gguf.GGUFReader(tokenizer_model)
    vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    rng = np.random.default_rng(seed)
    tmp = dst + ".part"
    w = gguf.GGUFWriter(tmp, fam.arch)
    a = fam.arch
    w.add_uint32(f"{a}.context_length", CTX)
    w.add_uint32(f"{a}.embedding_length", EMBD)
    w.add_uint32(f"{a}.block_count", LAYERS)
    w.add_uint32(f"{a}.feed_forward_length", FF)
    w.add_uint32(f"{a}.attention.head_count", HEADS)
    w.add_uint32(f"{a}.attention.head_count_kv", fam.kv_heads)
    w.add_float32(f"{a}.attention.layer_norm_rms_epsilon", 1e-5)
    w.add_float32(f"{a}.rope.freq_base", 10000.0)
    w.add_uint32(f"{a}.rope.dimension_count", HEAD)
    w.add_uint32(f"{a}.expert_count", fam.experts)
    w.add_uint32(f"{a}.expert_used_count", fam.used)
    if fam.expert_ff_key:
        w.add_uint32(f"{a}.expert_feed_forward_length", FF)
    if fam.shared_ff:
        w.add_uint32(f"{a}.expert_shared_feed_forward_length", fam.shared_ff)
    for name, value, vtype, sub in _tokenizer_fields(reader):
        w.add_key_value(name, value, vtype, sub_type=sub)

    def add(name: str, ggml_shape: list[int], scale: float, offset: float = 0.0) -> None:
        values = offset + scale * rng.uniform(-1, 1, size=list(reversed(ggml_shape)))
        w.add_tensor(name, values.astype(np.float32))

    add("token_embd.weight", [EMBD, vocab], 0.5)
    q, kv = HEADS * HEAD, fam.kv_heads * HEAD
    for i in range(LAYERS):
        p = f"blk.{i}."
        add(p + "attn_norm.weight", [EMBD], 0.2, 1.0)
        add(p + "attn_q.weight", [EMBD, q], 0.3)
        add(p + "attn_k.weight", [EMBD, kv], 0.3)
        add(p + "attn_v.weight", [EMBD, kv], 0.3)
        add(p + "attn_output.weight", [q, EMBD], 0.3)
        if fam.biases:
            add(p + "attn_q.bias", [q], 0.2)
            add(p + "attn_k.bias", [kv], 0.2)
            add(p + "attn_v.bias", [kv], 0.2)
        if fam.qk_norm:
            add(p + "attn_q_norm.weight", [HEAD if fam.qk_norm == "head" else q], 0.2, 1.0)
            add(p + "attn_k_norm.weight", [HEAD if fam.qk_norm == "head" else kv], 0.2, 1.0)
        add(p + "ffn_norm.weight", [EMBD], 0.2, 1.0)
        add(p + "ffn_gate_inp.weight", [EMBD, fam.experts], 0.3)
        add(p + "ffn_gate_exps.weight", [EMBD, FF, fam.experts], 0.3)
        add(p + "ffn_up_exps.weight", [EMBD, FF, fam.experts], 0.3)
        add(p + "ffn_down_exps.weight", [FF, EMBD, fam.experts], 0.3)
        if fam.shared_ff:
            add(p + "ffn_gate_inp_shexp.weight", [EMBD], 0.3)
            add(p + "ffn_gate_shexp.weight", [EMBD, fam.shared_ff], 0.3)
            add(p + "ffn_up_shexp.weight", [EMBD, fam.shared_ff], 0.3)
            add(p + "ffn_down_shexp.weight", [fam.shared_ff, EMBD], 0.3)
    add("output_norm.weight", [EMBD], 0.2, 1.0)
    add("output.weight", [EMBD, vocab], 0.5)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, dst)
    return dst
