"""Bytes of weights one decode step reads from a GGUF file, for the
bandwidth-bound figures in bench/run.sh.

A step reads every tensor once except the token embedding (one row; unless
the output projection is tied to it, then all of it), and of each routed
expert tensor (ffn_*_exps) only experts_used / expert_count.

A tensor's bytes are its elements ÷ the type's block size × the block's
bytes (gguf.GGML_QUANT_SIZES: Q4_K 144 bytes per 256 weights, Q5_K 176,
Q6_K 210, Q8_0 34 per 32, ...). The sum is checked against the file: the
tensors, each padded to the file's alignment, must end exactly at its size,
so a type counted wrong stops the bench instead of skewing its bound.

    python model_bytes.py FILE [--experts-used K] [--label L]   -> prints JSON
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict

import gguf


def tensor_bytes(t) -> int:
    block, size = gguf.GGML_QUANT_SIZES[t.tensor_type]
    return int(t.n_elements) // block * size


def check_against_file(r: gguf.GGUFReader, path: str) -> None:
    field = r.fields.get("general.alignment")
    align = int(field.contents()) if field else 32
    end = max(int(t.data_offset) + tensor_bytes(t) for t in r.tensors)
    padded = (end + align - 1) // align * align
    size = os.path.getsize(path)
    if size not in (end, padded):
        sys.exit(f"model_bytes: {path}: tensors end at {end}, file is {size} bytes: a type's size is counted wrong")


def active_bytes(path: str, experts_used: int | None = None) -> dict:
    r = gguf.GGUFReader(path)
    check_against_file(r, path)
    arch = r.fields["general.architecture"].contents()
    count_field = r.fields.get(f"{arch}.expert_count")
    used_field = r.fields.get(f"{arch}.expert_used_count")
    experts = int(count_field.contents()) if count_field else 0
    used = experts_used or (int(used_field.contents()) if used_field else 0)
    names = {t.name for t in r.tensors}
    tied = "output.weight" not in names
    total = active = 0
    by_type: dict[str, int] = defaultdict(int)
    for t in r.tensors:
        n = tensor_bytes(t)
        total += n
        if t.name == "token_embd.weight" and not tied:
            continue
        share = n * used // experts if "_exps." in t.name and experts > 0 else n
        active += share
        by_type[t.tensor_type.name] += share
    return {"file": path, "total_bytes": total, "active_bytes": active, "experts": experts, "experts_used": used,
            "active_bytes_by_type": dict(sorted(by_type.items(), key=lambda kv: -kv[1]))}


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--experts-used", type=int)
    p.add_argument("--label")
    a = p.parse_args()
    result = active_bytes(a.file, a.experts_used)
    if a.label:
        result["label"] = a.label
    print(json.dumps(result))
