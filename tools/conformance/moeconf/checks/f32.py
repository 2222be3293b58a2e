"""Check 1: exact math on an all-F32 model, against llama.cpp with an F32 KV
cache and flash attention off; moectl runs with `--kv-type f32` too (its
default cache is F16).

`compare_model` is the reusable part: the MoE synthetic models (Mixtral
layout, OLMoE, Qwen2-MoE, Qwen3-MoE, upcycled SmolLM2) will each be one call
to it with their own F32 file.
"""
from __future__ import annotations

import os

import numpy as np

from .. import corpus
from ..llama_side import LlamaModel
from ..metrics import compare_continuations
from ..moectl_side import MoectlError
from ..report import Row, error_row

NAME = "f32"
LOGIT_BOUND = 1e-3      # max |Δ| of the logits at the last prompt position
NEAR_TIE = 0.02         # llama.cpp's own top-2 gap below which order is free
MAX_TOKENS = 32
MIN_PROMPTS = 20


def run(ctx) -> list[Row]:
    try:
        path = ctx.f32_model()
    except Exception as err:  # noqa: BLE001
        return [error_row(NAME, "F32 copy", err)]
    prompts = corpus.PROMPTS[:4] if ctx.quick else corpus.PROMPTS
    return compare_model(ctx, path, prompts, min_prompts=1 if ctx.quick else MIN_PROMPTS)


def compare_model(ctx, path: str, prompts: list[str], *, min_prompts: int) -> list[Row]:
    """Three rows for one F32 model: raw prompt tokens, last-position logits,
    greedy continuations."""
    label = os.path.basename(path)
    try:
        with LlamaModel(path) as ref:
            results = [_one_prompt(ctx, ref, path, p) for p in prompts]
    except Exception as err:  # noqa: BLE001
        return [error_row(NAME, label, err)]
    return [_tokens_row(label, results), _logits_row(label, results),
            _greedy_row(label, results, min_prompts)]


def _one_prompt(ctx, ref: LlamaModel, path: str, prompt: str) -> dict:
    """Everything measured for one prompt; a moectl failure is recorded, not raised."""
    tokens = ref.tokenize(prompt, add_special=True, parse_special=False)
    gen = ref.greedy(tokens, MAX_TOKENS, f32_kv=True, threads=ctx.llama_threads)
    out = {"prompt": prompt, "tokens": tokens}
    try:
        scored = ctx.moectl.score_tokens(path, tokens, want_logits=True, n_vocab=ref.n_vocab,
                                         threads=ctx.threads, kv_type="f32")
        out["max_abs"] = float(np.max(np.abs(scored["logits"][-1] - gen.first_logits)))
    except MoectlError as err:
        out["score_error"] = str(err)
    try:
        ran = ctx.moectl.run_greedy(path, prompt, MAX_TOKENS, threads=ctx.threads, kv_type="f32")
        out["prompt_tokens_match"] = ran["prompt_tokens"] == tokens
        out["continuation"] = compare_continuations(gen.tokens, gen.margins, gen.stopped_by_eog,
                                                    ran["tokens"], tie=NEAR_TIE)
    except MoectlError as err:
        out["run_error"] = str(err)
    return out


def _tokens_row(label: str, results: list[dict]) -> Row:
    ran = [r for r in results if "run_error" not in r]
    same = sum(r["prompt_tokens_match"] for r in ran)
    bad = [r["prompt"] for r in ran if not r["prompt_tokens_match"]]
    detail = _first_error(results, "run_error") or (f"first differing prompt: {bad[0]!r}" if bad else "")
    return Row(f"{NAME} raw prompt tokens", label, f"{same}/{len(results)} identical",
               "all identical", same == len(results), detail)


def _logits_row(label: str, results: list[dict]) -> Row:
    diffs = [r["max_abs"] for r in results if "max_abs" in r]
    worst = max(diffs) if diffs else float("nan")
    ok = len(diffs) == len(results) and worst <= LOGIT_BOUND
    return Row(f"{NAME} logits (last prompt pos)", label,
               f"max abs {worst:.2e} over {len(diffs)}/{len(results)} prompts",
               f"≤ {LOGIT_BOUND:g}", ok, _first_error(results, "score_error"),
               {"max_abs": diffs})


def _greedy_row(label: str, results: list[dict], min_prompts: int) -> Row:
    cmp = [r["continuation"] for r in results if "continuation" in r]
    good = sum(c.ok for c in cmp)
    ties = sum(c.ok and c.note.startswith("near-tie") for c in cmp)
    failed = [f"{r['prompt']!r}: {r['continuation'].note}" for r in results
              if "continuation" in r and not r["continuation"].ok]
    ok = good == len(results) and len(results) >= min_prompts
    detail = _first_error(results, "run_error") or (failed[0] if failed else "")
    return Row(f"{NAME} greedy {MAX_TOKENS} tokens", label,
               f"{good}/{len(results)} prompts match ({ties} end at a near-tie)",
               f"all, ≥ {min_prompts} prompts, tie < {NEAR_TIE}", ok, detail,
               {"notes": [c.note for c in cmp]})


def _first_error(results: list[dict], key: str) -> str:
    errors = [r[key] for r in results if key in r]
    return f"{len(errors)} moectl failures, first: {errors[0]}" if errors else ""
