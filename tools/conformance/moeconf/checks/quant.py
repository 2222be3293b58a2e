"""Check 3: quantized models end to end, against llama.cpp with its default
(F16) KV cache: perplexity on data/english.txt within 1 %, and teacher-forced
top-1 agreement ≥ 98 % along llama.cpp's greedy continuations where
llama.cpp's own top-2 margin is ≥ 0.5."""
from __future__ import annotations

from .. import corpus
from ..llama_side import LlamaModel
from ..metrics import confident_agreement, relative_gap
from ..report import Row, error_row

NAME = "quant"
PPL_BOUND = 0.01
AGREEMENT_BOUND = 0.98
MIN_MARGIN = 0.5
CONTINUATION_TOKENS = 64
QUICK_TEXT_TOKENS = 512


def run(ctx) -> list[Row]:
    try:
        files = ctx.quantized_models()
    except Exception as err:  # noqa: BLE001
        return [error_row(NAME, "requantized files", err)]
    rows = []
    for label, path in files.items():
        ctx.log(f"[conformance] quant: {label}")
        try:
            with LlamaModel(path) as ref:
                rows.append(_perplexity(ctx, ref, label, path))
                rows.append(_agreement(ctx, ref, label, path))
        except Exception as err:  # noqa: BLE001
            rows.append(error_row(NAME, label, err))
    return rows


def _perplexity(ctx, ref: LlamaModel, label: str, path: str) -> Row:
    tokens = ref.tokenize(corpus.english_text(), add_special=True, parse_special=True)
    if ctx.quick:
        tokens = tokens[:QUICK_TEXT_TOKENS]
    want = ref.score(tokens, threads=ctx.llama_threads).perplexity
    try:
        got = float(ctx.moectl.score_tokens(path, tokens, threads=ctx.threads)["perplexity"])
    except Exception as err:  # noqa: BLE001 — includes a missing or non-numeric field
        return Row(f"{NAME} perplexity", label, f"llama.cpp {want:.4f}, ours: error",
                   f"within {PPL_BOUND:.0%}", False, str(err))
    gap = relative_gap(got, want)
    return Row(f"{NAME} perplexity ({len(tokens)} tok)", label,
               f"ours {got:.4f} vs llama.cpp {want:.4f} ({(got - want) / want:+.2%})",
               f"within {PPL_BOUND:.0%}", gap <= PPL_BOUND, "",
               {"ours": got, "llama": want, "tokens": len(tokens)})


def _agreement(ctx, ref: LlamaModel, label: str, path: str) -> Row:
    prompts = corpus.AGREEMENT_PROMPTS[:2] if ctx.quick else corpus.AGREEMENT_PROMPTS
    agree = counted = 0
    for prompt in prompts:
        prompt_tokens = ref.tokenize(prompt, add_special=True, parse_special=False)
        gen = ref.greedy(prompt_tokens, CONTINUATION_TOKENS, threads=ctx.llama_threads)
        seq = prompt_tokens + gen.tokens
        teacher = ref.score(seq, threads=ctx.llama_threads)
        try:
            predictions = ctx.moectl.score_tokens(path, seq, threads=ctx.threads)["predictions"]
        except Exception as err:  # noqa: BLE001
            return Row(f"{NAME} top-1 agreement", label, "error", f"≥ {AGREEMENT_BOUND:.0%}",
                       False, str(err))
        # Positions that predict a continuation token: the last prompt one onwards.
        positions = range(len(prompt_tokens) - 1, len(seq) - 1)
        a, c = confident_agreement(predictions, teacher.top1, teacher.margin, positions,
                                   min_margin=MIN_MARGIN)
        agree, counted = agree + a, counted + c
    rate = agree / counted if counted else 0.0
    return Row(f"{NAME} top-1 agreement", label,
               f"{agree}/{counted} = {rate:.1%} at margin ≥ {MIN_MARGIN} ({len(prompts)} prompts)",
               f"≥ {AGREEMENT_BOUND:.0%}", counted > 0 and rate >= AGREEMENT_BOUND, "",
               {"agree": agree, "counted": counted})
