"""Check 2: `moectl dequantize` bit-identical to `gguf.quants.dequantize`
for every tensor type, on real blocks (tensors of the downloaded and the
requantized files) and on random blocks (derive.random_blocks_file)."""
from __future__ import annotations

import os

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

from .. import derive
from . import qwen
from ..metrics import bit_mismatches
from ..report import Row, error_row

NAME = "kernels"

TYPES = (T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q4_K, T.Q5_K, T.Q6_K,
         T.Q2_K, T.Q3_K, T.IQ4_NL, T.IQ4_XS)
BOUND = "0 elements differ (bitwise)"


def run(ctx) -> list[Row]:
    rows = []
    try:
        rows += _real_blocks(ctx)
    except Exception as err:  # noqa: BLE001
        rows.append(error_row(f"{NAME} real", "requantized files", err))
    try:
        rows += _random_blocks(ctx)
    except Exception as err:  # noqa: BLE001
        rows.append(error_row(f"{NAME} random", "random-blocks.gguf", err))
    return rows


def _real_blocks(ctx) -> list[Row]:
    """For each type, the first and last tensor of that type found in the files."""
    found: dict[T, list[tuple[str, gguf.ReaderTensor]]] = {}
    # Every type needs its file even with --quick; they are cached after the first run.
    files = {os.path.basename(ctx.f32_model()): ctx.f32_model(),
             **ctx.quantized_models(every_type=True)}
    # the low-bit types come from the Qwen check's requantizations (SmolLM2's
    # 576-wide rows would keep the 256-value types off most matrices)
    files |= qwen.low_bit_files(ctx)
    for path in files.values():
        tensors = gguf.GGUFReader(path).tensors
        for qtype in TYPES:
            same_type = [t for t in tensors if t.tensor_type == qtype]
            if same_type and qtype not in found:
                picks = same_type[:1] if ctx.quick else [same_type[0], same_type[-1]]
                found[qtype] = [(path, t) for t in picks]
    rows = []
    for qtype in TYPES:
        if qtype not in found:
            rows.append(Row(f"{NAME} real {qtype.name}", "-", "no tensor of this type in the files", BOUND, False,
                            "a requantization is missing"))
            continue
        rows.append(_compare(ctx, f"{NAME} real", qtype, found[qtype]))
    return rows


def _random_blocks(ctx) -> list[Row]:
    path = ctx.random_blocks()
    by_name = {t.name: t for t in gguf.GGUFReader(path).tensors}
    return [_compare(ctx, f"{NAME} random", q, [(path, by_name[derive.random_tensor_name(q)])])
            for q in derive.RANDOM_TYPES]


def _compare(ctx, check: str, qtype: T, tensors) -> Row:
    """One row per type: every listed tensor through both dequantizers."""
    elements = differ = 0
    worst, errors, names = 0.0, [], []
    for path, t in tensors:
        names.append(f"{os.path.basename(path)}:{t.name}")
        want = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32).ravel()
        try:
            got = ctx.moectl.dequantize(path, t.name)
        except Exception as err:  # noqa: BLE001
            errors.append(str(err))
            continue
        elements += want.size
        differ += bit_mismatches(got, want)
        if got.shape == want.shape:
            worst = max(worst, float(np.nanmax(np.abs(got - want))) if want.size else 0.0)
    check = f"{check} {qtype.name}"
    files = ", ".join(sorted({os.path.basename(path) for path, _ in tensors}))
    if errors:
        return Row(check, files, "error", BOUND, False, errors[0], {"tensors": names})
    figure = f"{len(tensors)} tensor(s): {differ}/{elements} elements differ, max abs {worst:.3g}"
    return Row(check, files, figure, BOUND, differ == 0, "", {"tensors": names})
