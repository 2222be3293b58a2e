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
LOGPROB_TOP = 20        # alternatives asked of `moectl run --logprobs`
LOGPROB_BOUND = 2e-3    # max |Δ| of log-softmax: at most twice the logits' bound


def run(ctx) -> list[Row]:
    try:
        path = ctx.f32_model()
    except Exception as err:  # noqa: BLE001
        return [error_row(NAME, "F32 copy", err)]
    prompts = corpus.PROMPTS[:4] if ctx.quick else corpus.PROMPTS
    return compare_model(ctx, path, prompts, min_prompts=1 if ctx.quick else MIN_PROMPTS)


def compare_model(ctx, path: str, prompts: list[str], *, min_prompts: int,
                  logit_bound: float = LOGIT_BOUND) -> list[Row]:
    """Three rows for one F32 model: raw prompt tokens, last-position logits
    (within `logit_bound`), greedy continuations."""
    label = os.path.basename(path)
    try:
        with LlamaModel(path) as ref:
            results = [_one_prompt(ctx, ref, path, p) for p in prompts]
    except Exception as err:  # noqa: BLE001
        return [error_row(NAME, label, err)]
    return [_tokens_row(label, results), _logits_row(label, results, logit_bound),
            _logprobs_row(label, results), _greedy_row(label, results, min_prompts)]


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
        entry = ctx.moectl.run_logprobs(path, prompt, LOGPROB_TOP, threads=ctx.threads, kv_type="f32")
        out["logprob_abs"], out["logprob_top_match"] = _logprob_gap(entry, gen.first_logits)
    except (MoectlError, KeyError, TypeError, ValueError) as err:
        out["logprob_error"] = str(err)
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


def _logits_row(label: str, results: list[dict], bound: float = LOGIT_BOUND) -> Row:
    diffs = [r["max_abs"] for r in results if "max_abs" in r]
    worst = max(diffs) if diffs else float("nan")
    ok = len(diffs) == len(results) and worst <= bound
    return Row(f"{NAME} logits (last prompt pos)", label,
               f"max abs {worst:.2e} over {len(diffs)}/{len(results)} prompts",
               f"≤ {bound:g}", ok, _first_error(results, "score_error"),
               {"max_abs": diffs})


def _logprob_gap(entry: dict, ref_logits: np.ndarray) -> tuple[float, bool]:
    """Max |Δ| between moectl's log-probabilities (chosen and top-N) and
    the log-softmax of llama.cpp's logits at the same ids; and whether the
    top-N ids are llama.cpp's N largest (as a set: near-ties may swap)."""
    logits = ref_logits.astype(np.float64)
    top = logits.max()
    ref = logits - (top + np.log(np.exp(logits - top).sum()))
    pairs = [(int(entry["id"]), float(entry["logprob"]))]
    pairs += [(int(a["id"]), float(a["logprob"])) for a in entry["top_logprobs"]]
    gap = max(abs(lp - ref[i]) for i, lp in pairs)
    ours = {i for i, _ in pairs[1:]}
    theirs = set(np.argsort(-ref, kind="stable")[:len(ours)].tolist())
    return float(gap), ours == theirs


def _logprobs_row(label: str, results: list[dict]) -> Row:
    gaps = [r["logprob_abs"] for r in results if "logprob_abs" in r]
    same = sum(r["logprob_top_match"] for r in results if "logprob_abs" in r)
    worst = max(gaps) if gaps else float("nan")
    ok = len(gaps) == len(results) and worst <= LOGPROB_BOUND
    return Row(f"{NAME} logprobs top-{LOGPROB_TOP} (first token)", label,
               f"max abs {worst:.2e} over {len(gaps)}/{len(results)} prompts; top ids equal in {same}",
               f"≤ {LOGPROB_BOUND:g}", ok, _first_error(results, "logprob_error"),
               {"max_abs": gaps})


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
