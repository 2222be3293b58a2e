"""Random-weight F16 GGUF files shaped like the models people run, for
bench/run.sh's speed figures (the weights are noise: speed does not depend
on them; a decode step reads every active byte whatever they hold).

Every matrix dimension is a multiple of 256, so llama.cpp's quantizer puts
K-quants on every matrix, as in real 1.5B–8B files. The tokenizer is the
default model's gpt2 BPE (pre-tokenizer smollm) cut to its first 32000
tokens, with the merges that stay inside them: real, and accepted by both
moed and llama.cpp. MoE shapes use the Mixtral layout (`llama` + expert_count,
stacked ffn_*_exps tensors; docs/moe.md).

    python synth_model.py SHAPE OUT.gguf --tokenizer SmolLM2.gguf
    SHAPE: dense-1.5b | dense-0.3b | moe-8x2 | moe-64x8

dense-0.3b is the dense model of the MoE shapes' active size: its
feed-forward width equals experts_used × expert width of both MoE shapes.
Tensors are streamed to the file one at a time (a 1.5B F16 file is ~3 GB).
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

import gguf
import numpy as np

VOCAB = 32000
HEAD = 64


@dataclass(frozen=True)
class Shape:
    embd: int
    ff: int            # dense FFN width, or one expert's
    layers: int
    heads: int
    kv_heads: int
    experts: int = 0
    used: int = 0


SHAPES = {
    "dense-1.5b": Shape(embd=2048, ff=8192, layers=22, heads=32, kv_heads=4),
    "dense-0.3b": Shape(embd=1024, ff=4096, layers=16, heads=16, kv_heads=4),
    "moe-8x2": Shape(embd=1024, ff=2048, layers=16, heads=16, kv_heads=4, experts=8, used=2),
    "moe-64x8": Shape(embd=1024, ff=512, layers=16, heads=16, kv_heads=4, experts=64, used=8),
}


def tokenizer_fields(path: str):
    """The default model's tokenizer, cut to VOCAB tokens (merges inside them)."""
    r = gguf.GGUFReader(path)
    fields = {f.name: f for f in r.fields.values() if f.name.startswith("tokenizer.")}
    tokens = fields["tokenizer.ggml.tokens"].contents()[:VOCAB]
    kept = set(tokens)
    merges = []
    for m in fields["tokenizer.ggml.merges"].contents():
        a, _, b = m.partition(" ")
        if a in kept and b in kept and a + b in kept:
            merges.append(m)
    out = []
    for name, f in fields.items():
        value = f.contents()
        if name == "tokenizer.ggml.tokens":
            value = tokens
        elif name == "tokenizer.ggml.token_type":
            value = value[:VOCAB]
        elif name == "tokenizer.ggml.merges":
            value = merges
        elif name.endswith("_token_id") and value >= VOCAB:
            continue
        sub = f.types[-1] if f.types[0] == gguf.GGUFValueType.ARRAY else None
        out.append((name, value, f.types[0], sub))
    return out


def tensor_list(s: Shape) -> list[tuple[str, list[int], str]]:
    """(name, ggml shape [ne0, ne1, ...], kind) in file order."""
    q, kv = s.heads * HEAD, s.kv_heads * HEAD
    t = [("token_embd.weight", [s.embd, VOCAB], "matrix")]
    for i in range(s.layers):
        p = f"blk.{i}."
        t += [(p + "attn_norm.weight", [s.embd], "norm"),
              (p + "attn_q.weight", [s.embd, q], "matrix"),
              (p + "attn_k.weight", [s.embd, kv], "matrix"),
              (p + "attn_v.weight", [s.embd, kv], "matrix"),
              (p + "attn_output.weight", [q, s.embd], "matrix"),
              (p + "ffn_norm.weight", [s.embd], "norm")]
        if s.experts:
            t += [(p + "ffn_gate_inp.weight", [s.embd, s.experts], "router"),
                  (p + "ffn_gate_exps.weight", [s.embd, s.ff, s.experts], "matrix"),
                  (p + "ffn_up_exps.weight", [s.embd, s.ff, s.experts], "matrix"),
                  (p + "ffn_down_exps.weight", [s.ff, s.embd, s.experts], "matrix")]
        else:
            t += [(p + "ffn_gate.weight", [s.embd, s.ff], "matrix"),
                  (p + "ffn_up.weight", [s.embd, s.ff], "matrix"),
                  (p + "ffn_down.weight", [s.ff, s.embd], "matrix")]
    t += [("output_norm.weight", [s.embd], "norm"), ("output.weight", [s.embd, VOCAB], "matrix")]
    return t


def values(kind: str, ggml_shape: list[int], rng: np.random.Generator) -> np.ndarray:
    shape = list(reversed(ggml_shape))
    if kind == "norm":  # F32, near one: activations keep their scale layer after layer
        return (1.0 + 0.1 * rng.uniform(-1, 1, size=shape)).astype(np.float32)
    # F32 router (llama.cpp keeps ffn_gate_inp unquantized); F16 matrices, std 1/sqrt(fan-in)
    x = rng.standard_normal(size=shape, dtype=np.float32) * np.float32(ggml_shape[0] ** -0.5)
    return x if kind == "router" else x.astype(np.float16)


def write(shape_name: str, dst: str, tokenizer: str, seed: int = 1) -> None:
    s = SHAPES[shape_name]
    rng = np.random.default_rng(seed)
    tmp = dst + ".part"
    a = "llama"
    w = gguf.GGUFWriter(None, a)
    w.add_name(f"moed-bench-{shape_name}")
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_uint32(f"{a}.context_length", 4096)
    w.add_uint32(f"{a}.embedding_length", s.embd)
    w.add_uint32(f"{a}.block_count", s.layers)
    w.add_uint32(f"{a}.feed_forward_length", s.ff)
    w.add_uint32(f"{a}.attention.head_count", s.heads)
    w.add_uint32(f"{a}.attention.head_count_kv", s.kv_heads)
    w.add_float32(f"{a}.attention.layer_norm_rms_epsilon", 1e-5)
    w.add_float32(f"{a}.rope.freq_base", 10000.0)
    w.add_uint32(f"{a}.rope.dimension_count", HEAD)
    w.add_uint32(f"{a}.vocab_size", VOCAB)
    if s.experts:
        w.add_uint32(f"{a}.expert_count", s.experts)
        w.add_uint32(f"{a}.expert_used_count", s.used)
    for name, value, vtype, sub in tokenizer_fields(tokenizer):
        w.add_key_value(name, value, vtype, sub_type=sub)
    tensors = tensor_list(s)
    for name, ggml_shape, kind in tensors:
        n = int(np.prod(ggml_shape))
        dtype = np.float16 if kind == "matrix" else np.float32
        w.add_tensor_info(name, list(reversed(ggml_shape)), np.dtype(dtype), n * np.dtype(dtype).itemsize)
    w.write_header_to_file(tmp)
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for name, ggml_shape, kind in tensors:
        w.write_tensor_data(values(kind, ggml_shape, rng))
    w.close()
    os.replace(tmp, dst)


def parameters(shape_name: str) -> dict:
    s = SHAPES[shape_name]
    total = active = 0
    for name, ggml_shape, _ in tensor_list(s):
        n = int(np.prod(ggml_shape))
        total += n
        active += n * s.used // s.experts if "_exps." in name else n
    return {"total": total, "active": active}


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("shape", choices=sorted(SHAPES))
    p.add_argument("out", nargs="?")
    p.add_argument("--tokenizer")
    p.add_argument("--parameters", action="store_true", help="print the parameter counts and exit")
    a = p.parse_args()
    if a.parameters:
        print(a.shape, parameters(a.shape))
    else:
        write(a.shape, a.out, a.tokenizer)
