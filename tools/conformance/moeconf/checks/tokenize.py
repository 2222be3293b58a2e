"""Check 4: tokenization identical to llama.cpp (add_special, parse_special
both true, the `moectl tokenize` contract) on the torture list, for the
default model's byte-level BPE and llama.cpp's own vocab-only files
(SentencePiece llama-spm, llama-bpe, qwen2)."""
from __future__ import annotations

import os

from .. import corpus
from ..llama_side import LlamaModel
from ..moectl_side import MoectlError
from ..report import Row, error_row

NAME = "tokenize"


def run(ctx) -> list[Row]:
    files = {os.path.basename(ctx.model): ctx.model}
    try:
        files.update(ctx.vocab_files())
    except Exception as err:  # noqa: BLE001 — a failed download is a FAIL row, not a crash
        rows = [error_row(NAME, "vocab files", err)]
    else:
        rows = []
    for label, path in files.items():
        try:
            rows.append(_compare_file(ctx, label, path))
        except Exception as err:  # noqa: BLE001
            rows.append(error_row(NAME, label, err))
    return rows


def _compare_file(ctx, label: str, path: str) -> Row:
    same, problems = 0, []
    with LlamaModel(path, vocab_only=True) as ref:
        for text in corpus.TORTURE:
            want = ref.tokenize(text, add_special=True, parse_special=True)
            try:
                got = ctx.moectl.tokenize(path, text)
            except MoectlError as err:
                problems.append(f"{text!r}: {err}")
                continue
            if got == want:
                same += 1
            else:
                problems.append(f"{text!r}: ours {got[:12]} vs llama.cpp {want[:12]}")
    total = len(corpus.TORTURE)
    detail = f"first of {len(problems)}: {problems[0]}" if problems else ""
    return Row(NAME, label, f"{same}/{total} strings identical", "all identical",
               same == total, detail, {"problems": problems})
