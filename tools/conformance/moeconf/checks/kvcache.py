"""Check 6: the KV cache types. Perplexity on data/english.txt of the default
model with moectl's `--kv-type` f16 (its default), q8_0 and f32, each within
1 % of llama.cpp run with the same type_k/type_v.

llama.cpp refuses a quantized V cache unless flash attention is on
("quantized V cache requires flash_attn to be enabled"), so its Q8_0 row runs with
flash attention; the F16 and F32 rows run without, as the other checks do.
"""
from __future__ import annotations

import os

from .. import corpus
from ..llama_side import LlamaModel
from ..metrics import relative_gap
from ..report import Row, error_row

NAME = "kv"
PPL_BOUND = 0.01
KV_TYPES = ["f16", "q8_0", "f32"]
QUICK_TEXT_TOKENS = 512


def run(ctx) -> list[Row]:
    label = os.path.basename(ctx.model)
    try:
        with LlamaModel(ctx.model) as ref:
            tokens = ref.tokenize(corpus.english_text(), add_special=True, parse_special=True)
            if ctx.quick:
                tokens = tokens[:QUICK_TEXT_TOKENS]
            return [_perplexity(ctx, ref, label, tokens, kv) for kv in KV_TYPES]
    except Exception as err:  # noqa: BLE001
        return [error_row(NAME, label, err)]


def _perplexity(ctx, ref: LlamaModel, label: str, tokens: list[int], kv: str) -> Row:
    ctx.log(f"[conformance] kv: {label} with a {kv} cache")
    check = f"{NAME} {kv} perplexity ({len(tokens)} tok)"
    try:
        want = ref.score(tokens, threads=ctx.llama_threads, kv_type=kv).perplexity
    except Exception as err:  # noqa: BLE001
        return Row(check, label, "llama.cpp: error", f"within {PPL_BOUND:.0%}", False, str(err))
    try:
        got = float(ctx.moectl.score_tokens(ctx.model, tokens, threads=ctx.threads, kv_type=kv)["perplexity"])
    except Exception as err:  # noqa: BLE001
        return Row(check, label, f"llama.cpp {want:.4f}, ours: error", f"within {PPL_BOUND:.0%}", False, str(err))
    gap = relative_gap(got, want)
    return Row(check, label, f"ours {got:.4f} vs llama.cpp {want:.4f} ({(got - want) / want:+.2%})",
               f"within {PPL_BOUND:.0%}", gap <= PPL_BOUND, "",
               {"ours": got, "llama": want, "tokens": len(tokens), "kv_type": kv})
