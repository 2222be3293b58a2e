"""What every check gets: where things are, the two engines' handles, and
lazily made derived files (made once into the cache, reused afterwards)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from . import assets, derive
from .moectl_side import Moectl

# The requantizations of check 3, all made by llama.cpp from the F32 copy.
REQUANT_TYPES = ("Q8_0", "Q4_0", "Q5_0", "Q5_1", "Q4_K_M", "Q5_K_M", "Q6_K", "F16", "BF16")
QUICK_REQUANT_TYPES = ("Q8_0", "Q4_K_M")


@dataclass
class Context:
    model: str              # the default model (SmolLM2-135M-Instruct Q4_1)
    cache: str              # <repo>/models/conformance
    moectl: Moectl
    quick: bool = False
    threads: int = 2        # moectl's --threads
    # llama.cpp's threads. One by default: its thread pool spin-waits, and on
    # a shared 2-core machine two threads ran ~35x slower than one; its
    # logits do not depend on the thread count.
    llama_threads: int = 1
    log: callable = print
    repo: str = ""           # the repository root (the Qwen check finds its model there)
    qwen_dir: str | None = None  # where the Qwen requantizations go (checks/qwen.py)
    qwen_types: list | None = None  # a subset of the Qwen check's files (--qwen-types)
    _made: dict = field(default_factory=dict)

    def _once(self, key: str, make) -> str:
        if key not in self._made:
            self.log(f"[conformance] preparing {key}")
            self._made[key] = make()
        return self._made[key]

    def f32_model(self) -> str:
        dst = os.path.join(self.cache, _stem(self.model) + ".F32.gguf")
        return self._once("F32 copy", lambda: derive.f32_copy(self.model, dst))

    def requantized(self, ftype: str) -> str:
        dst = os.path.join(self.cache, f"{_stem(self.model)}.{ftype}.gguf")
        return self._once(ftype, lambda: derive.requantized(self.f32_model(), dst, ftype))

    def quantized_models(self, *, every_type: bool = False) -> dict[str, str]:
        """Label → path: the original download, then llama.cpp requantizations
        (fewer with --quick unless `every_type`)."""
        types = QUICK_REQUANT_TYPES if self.quick and not every_type else REQUANT_TYPES
        files = {os.path.basename(self.model): self.model}
        for ftype in types:
            path = self.requantized(ftype)
            files[os.path.basename(path)] = path
        return files

    def random_blocks(self) -> str:
        # The name carries the layout: change it with RANDOM_SHAPE or the seed.
        dst = os.path.join(self.cache, "random-blocks-64x512-v2.gguf")  # v2: + Q2_K, Q3_K, IQ4_*
        return self._once("random blocks", lambda: derive.random_blocks_file(dst))

    def vocab_files(self) -> dict[str, str]:
        return self._once("vocab files", lambda: assets.vocab_files(self.cache))


def _stem(path: str) -> str:
    name = os.path.basename(path)
    for suffix in (".gguf", ".Q4_1"):
        name = name.removesuffix(suffix)
    return name
