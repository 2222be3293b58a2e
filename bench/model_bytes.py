"""Bytes of weights one decode step reads from a GGUF file, for the
bandwidth-bound figures in bench/run.sh.

A step reads every tensor once except the token embedding (one row; unless
the output projection is tied to it, then all of it), and of each routed
expert tensor (ffn_*_exps) only experts_used / expert_count.

    python model_bytes.py FILE [--experts-used K]   -> prints JSON
"""
from __future__ import annotations

import argparse
import json

import gguf


def active_bytes(path: str, experts_used: int | None = None) -> dict:
    r = gguf.GGUFReader(path)
    arch = r.fields["general.architecture"].contents()
    count_field = r.fields.get(f"{arch}.expert_count")
    used_field = r.fields.get(f"{arch}.expert_used_count")
    experts = int(count_field.contents()) if count_field else 0
    used = experts_used or (int(used_field.contents()) if used_field else 0)
    names = {t.name for t in r.tensors}
    tied = "output.weight" not in names
    total = active = 0
    for t in r.tensors:
        n = int(t.n_bytes)
        total += n
        if t.name == "token_embd.weight" and not tied:
            continue
        if "_exps." in t.name and experts > 0:
            active += n * used // experts
        else:
            active += n
    return {"file": path, "total_bytes": total, "active_bytes": active, "experts": experts, "experts_used": used}


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--experts-used", type=int)
    a = p.parse_args()
    print(json.dumps(active_bytes(a.file, a.experts_used)))
