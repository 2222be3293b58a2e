"""Check 5: dense architecture families beyond Llama against llama.cpp.

Tiny all-F32 models (arch_models.FAMILIES: Qwen3 dense, Gemma 3 with its
sliding-window and global layers, Gemma 2 with soft caps, Phi-3 with fused
tensors, partial RoPE and LongRoPE long and short factors, Llama 3.1's
rope_freqs), each the f32 check's three rows with the issue's tighter logit
bound: F32 KV cache, flash attention off, logits within 1e-4 at the last
prompt position (2e-3 for the GeGLU families, see arch_models.Family),
greedy identical up to near-ties.
"""
from __future__ import annotations

import os

from .. import arch_models, corpus
from ..report import Row, error_row
from . import f32

NAME = "arch"


def run(ctx) -> list[Row]:
    prompts = corpus.PROMPTS[:2] if ctx.quick else corpus.PROMPTS[:8]
    rows: list[Row] = []
    for fam in arch_models.FAMILIES:
        try:
            path = ctx._once(f"arch {fam.label}", lambda fam=fam: arch_models.write(
                fam, ctx.model, os.path.join(ctx.cache, f"arch-{fam.label}.F32.gguf")))
        except Exception as err:  # noqa: BLE001
            rows.append(error_row(NAME, fam.label, err))
            continue
        rows += f32.compare_model(ctx, path, prompts, min_prompts=len(prompts), logit_bound=fam.logit_bound)
    return rows
