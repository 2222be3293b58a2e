"""The comparisons themselves, as pure functions (no llama.cpp, no moectl).

Kept apart so the rules the report applies can be unit-tested on tiny
made-up inputs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Continuation:
    """Outcome of comparing two greedy continuations."""
    ok: bool
    matched: int            # steps identical before the first difference (or all)
    note: str


def compare_continuations(ref_tokens: list[int], ref_margins: list[float], ref_eog: bool,
                          ours: list[int], *, tie: float) -> Continuation:
    """Identical up to the first step where the reference's own top-2 logits
    are within `tie` (a genuine near-tie, after which any order is legitimate).

    A stop is a token too: if one side stopped (end of generation) where the
    other went on, they differ at that step.
    """
    n = max(len(ref_tokens), len(ours))
    for step in range(n):
        ref = ref_tokens[step] if step < len(ref_tokens) else None
        our = ours[step] if step < len(ours) else None
        if ref == our:
            continue
        if ref is None and not ref_eog:
            return Continuation(True, step, "reference hit max tokens")
        if step < len(ref_margins) and ref_margins[step] < tie:
            return Continuation(True, step, f"near-tie at step {step} (margin {ref_margins[step]:.4f})")
        return Continuation(False, step, f"step {step}: ours {_tok(our)}, llama.cpp {_tok(ref)}"
                            + (f" (margin {ref_margins[step]:.3f})" if step < len(ref_margins) else ""))
    return Continuation(True, n, "identical")


def _tok(token: int | None) -> str:
    return "stop" if token is None else str(token)


def confident_agreement(ours: list[int], ref_top1: np.ndarray, ref_margin: np.ndarray,
                        positions: range, *, min_margin: float) -> tuple[int, int]:
    """(agreeing, counted): top-1 agreement at positions where the reference
    is confident (its top-2 margin at least `min_margin`)."""
    agree = total = 0
    for i in positions:
        if ref_margin[i] >= min_margin:
            total += 1
            agree += int(ours[i] == int(ref_top1[i]))
    return agree, total


def perplexity(logprobs) -> float:
    lp = np.asarray(logprobs, dtype=np.float64)
    return float(np.exp(-lp.mean()))


def relative_gap(ours: float, ref: float) -> float:
    return abs(ours - ref) / abs(ref)


def bit_mismatches(ours: np.ndarray, ref: np.ndarray) -> int:
    """Elements whose float32 bit patterns differ (shape mismatch counts all).

    -0.0 and +0.0 are equal values, so they are compared as values there.
    """
    a = np.asarray(ours, dtype=np.float32).ravel()
    b = np.asarray(ref, dtype=np.float32).ravel()
    if a.shape != b.shape:
        return max(a.size, b.size)
    differ = a.view(np.uint32) != b.view(np.uint32)
    both_zero = (a == 0) & (b == 0)
    return int(np.count_nonzero(differ & ~both_zero))
