"""Check 4: the Mixture-of-Experts backend against llama.cpp.

- Tiny all-F32 models of each family (Mixtral layout, OLMoE, Qwen2-MoE with
  its shared expert, Qwen3-MoE, and a 64-expert/top-8 OLMoE): the f32 check's
  three rows each (F32 KV cache, flash attention off, logits within 1e-3,
  greedy identical up to near-ties).
- SmolLM2 upcycled by `moectl upcycle`:
  * F32, identical experts: our MoE logits equal our dense F32 logits within 1e-4;
  * F32, distinct experts (noise): the f32 rows against llama.cpp on that file;
  * Q8_0 experts from the Q4_1 download: the quant check's perplexity and
    teacher-forced agreement rows.
"""
from __future__ import annotations

import os

import numpy as np

from .. import corpus, moe_models
from ..llama_side import LlamaModel
from ..report import Row, error_row
from . import f32, quant

NAME = "moe"
IDENTITY_BOUND = 1e-4
UPCYCLE_NOISE = "0.05"


def run(ctx) -> list[Row]:
    prompts = corpus.PROMPTS[:2] if ctx.quick else corpus.PROMPTS[:8]
    rows: list[Row] = []
    for fam in moe_models.FAMILIES:
        try:
            path = ctx._once(f"moe {fam.label}", lambda fam=fam: moe_models.write(
                fam, ctx.model, os.path.join(ctx.cache, f"moe-{fam.label}.F32.gguf")))
        except Exception as err:  # noqa: BLE001
            rows.append(error_row(NAME, fam.label, err))
            continue
        rows += f32.compare_model(ctx, path, prompts, min_prompts=len(prompts))
    rows.append(_identity_row(ctx))
    try:
        distinct = _upcycled(ctx, ctx.f32_model(), "F32-8x2-noise", "f32", UPCYCLE_NOISE)
        rows += f32.compare_model(ctx, distinct, prompts, min_prompts=len(prompts))
    except Exception as err:  # noqa: BLE001
        rows.append(error_row(NAME, "upcycled F32 8x2", err))
    rows += _quantized_rows(ctx)
    return rows


def _upcycled(ctx, src: str, tag: str, expert_type: str, noise: str, experts: int = 8, used: int = 2) -> str:
    """`moectl upcycle` of `src` into the cache, once."""
    stem = os.path.basename(src).removesuffix(".gguf")
    dst = os.path.join(ctx.cache, f"{stem}.upcycled-{tag}.gguf")

    def make() -> str:
        if not os.path.exists(dst):
            ctx.moectl._json(["upcycle", "--model", src, "--out", dst, "--experts", str(experts),
                              "--experts-used", str(used), "--noise", noise, "--seed", "1",
                              "--expert-type", expert_type, "--json"])
        return dst
    return ctx._once(f"upcycled {tag}", make)


def _identity_row(ctx) -> Row:
    """Identical F32 experts: the renormalised top-k weights sum to one, so the
    MoE must compute the dense model (ours against ours; llama.cpp not needed)."""
    label = "SmolLM2 F32 upcycled 8x2, noise 0"
    try:
        dense = ctx.f32_model()
        moe = _upcycled(ctx, dense, "F32-8x2-identical", "f32", "0")
        with LlamaModel(dense, vocab_only=True) as ref:
            n_vocab = ref.n_vocab
            tokens = ref.tokenize(corpus.PROMPTS[0], add_special=True, parse_special=False)
        # F32 KV: an F16 cache turns the 1e-5 float noise between the two
        # paths into rounding flips of up to ~1e-2 in the logits.
        a = ctx.moectl.score_tokens(dense, tokens, want_logits=True, n_vocab=n_vocab, threads=ctx.threads, kv_type="f32")
        b = ctx.moectl.score_tokens(moe, tokens, want_logits=True, n_vocab=n_vocab, threads=ctx.threads, kv_type="f32")
        worst = float(np.max(np.abs(a["logits"] - b["logits"])))
    except Exception as err:  # noqa: BLE001
        return error_row(f"{NAME} upcycle identity", label, err)
    return Row(f"{NAME} upcycle identity (all positions)", label, f"max |MoE − dense| {worst:.2e}",
               f"≤ {IDENTITY_BOUND:g}", worst <= IDENTITY_BOUND, "", {"max_abs": worst})


def _quantized_rows(ctx) -> list[Row]:
    label = "SmolLM2 Q4_1 upcycled 8x2, Q8_0 experts"
    try:
        path = _upcycled(ctx, ctx.model, "Q8_0-8x2-noise", "q8_0", UPCYCLE_NOISE)
        with LlamaModel(path) as ref:
            name = os.path.basename(path)
            return [quant._perplexity(ctx, ref, name, path), quant._agreement(ctx, ref, name, path)]
    except Exception as err:  # noqa: BLE001
        return [error_row(NAME, label, err)]
