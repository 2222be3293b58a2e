"""The checks, in the order they run. Each module exposes

    NAME: str                       the --only key
    run(ctx: Context) -> list[Row]  never raises: failures become FAIL rows

A new check (the MoE synthetic models next) is one more module listed here;
an F32 comparison of another model is a call to f32.compare_model.
"""
from . import tokenize, kernels, f32, quant
from . import moe, arch, qwen
from . import kvcache

ALL = [tokenize, kernels, f32, quant, moe, arch, qwen, kvcache]
BY_NAME = {check.NAME: check for check in ALL}
