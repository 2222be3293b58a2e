"""llama.cpp's side of bench/run.sh, through llama-cpp-python's low-level C API.

Same figures, same synthetic token ids and the same timing boundaries as
bench/moebench (see its main.swift): decode is `tokens` greedy steps of one
llama_decode of one token each after a short prompt; prompt is one
llama_decode of the whole prompt. Prints one JSON object.

    python llama_bench.py decode|prompt|streams --model F --threads T [--tokens N] [--prompt N] [--streams N]
    python llama_bench.py system    -> the instruction sets llama.cpp was built with and uses, e.g. "AVX2 AVX512 AVX512_VNNI"
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import time

import numpy as np

os.environ.setdefault("LLAMA_LOG_LEVEL", "error")
import llama_cpp.llama_cpp as ll  # noqa: E402


def synthetic_tokens(count: int, vocabulary: int) -> list[int]:
    """The ids moebench uses (syntheticTokens in main.swift)."""
    return [(1000 + i * 7919) % min(vocabulary, 32000) for i in range(count)]


def quiet_logs() -> None:
    callback = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)(lambda *_: None)
    ll.llama_log_set(callback, None)
    quiet_logs.keep = callback  # the C side keeps the pointer


class Engine:
    def __init__(self, path: str, threads: int, n_ctx: int, n_seq: int = 1):
        mp = ll.llama_model_default_params()
        mp.n_gpu_layers = 0
        self.model = ll.llama_model_load_from_file(path.encode(), mp)
        if not self.model:
            sys.exit(f"llama.cpp could not load {path}")
        self.vocab = ll.llama_model_get_vocab(self.model)
        self.n_vocab = ll.llama_vocab_n_tokens(self.vocab)
        cp = ll.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = n_ctx
        cp.n_ubatch = 512
        cp.n_seq_max = n_seq
        cp.n_threads = threads
        cp.n_threads_batch = threads
        self.ctx = ll.llama_init_from_model(self.model, cp)
        if not self.ctx:
            sys.exit(f"llama_init_from_model failed for {path}")
        self.batch = ll.llama_batch_init(n_ctx, 0, n_seq)

    def decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        """entries: (token, position, sequence, wants_logits)."""
        b = self.batch
        b.n_tokens = len(entries)
        for i, (tok, pos, seq, want) in enumerate(entries):
            b.token[i] = tok
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = want
        if ll.llama_decode(self.ctx, b) != 0:
            sys.exit("llama_decode failed")

    def argmax(self, i: int) -> int:
        row = np.ctypeslib.as_array(ll.llama_get_logits_ith(self.ctx, i), shape=(self.n_vocab,))
        return int(row.argmax())

    def clear(self) -> None:
        ll.llama_memory_clear(ll.llama_get_memory(self.ctx), True)


def prompt_entries(tokens: list[int], seq: int = 0) -> list[tuple[int, int, int, bool]]:
    return [(t, i, seq, i == len(tokens) - 1) for i, t in enumerate(tokens)]


def run_decode(e: Engine, a) -> dict:
    prompt = synthetic_tokens(a.prompt, e.n_vocab)
    e.decode(prompt_entries(prompt))
    nxt, pos = e.argmax(-1), len(prompt)
    start, start_cpu = time.perf_counter(), time.thread_time()
    for _ in range(a.tokens):
        e.decode([(nxt, pos, 0, True)])
        nxt, pos = e.argmax(-1), pos + 1
    elapsed, cpu = time.perf_counter() - start, time.thread_time() - start_cpu
    # at one thread ggml computes on this thread: steps per CPU second, as moebench reports
    return {"tokens": a.tokens, "seconds": elapsed, "tokens_per_second": a.tokens / elapsed,
            "cpu_tokens_per_second": a.tokens / max(cpu, 1e-9)}


def run_prompt(e: Engine, a) -> dict:
    prompt = synthetic_tokens(a.tokens, e.n_vocab)
    e.decode(prompt_entries(prompt[:8]))  # warm threads and pages, as moebench does
    e.clear()
    start, start_cpu = time.perf_counter(), time.thread_time()
    e.decode(prompt_entries(prompt))
    elapsed, cpu = time.perf_counter() - start, time.thread_time() - start_cpu
    # at one thread ggml computes on this thread: its CPU time, as moebench's
    return {"tokens": a.tokens, "seconds": elapsed, "tokens_per_second": a.tokens / elapsed,
            "cpu_tokens_per_second": a.tokens / max(cpu, 1e-9)}


def run_streams(e: Engine, a) -> dict:
    n = a.streams
    nxt, pos = [], []
    for s in range(n):
        prompt = synthetic_tokens(a.prompt + s, e.n_vocab)
        e.decode(prompt_entries(prompt, s))
        nxt.append(e.argmax(-1))
        pos.append(len(prompt))
    start, start_cpu = time.perf_counter(), time.thread_time()
    for _ in range(a.tokens):
        e.decode([(nxt[s], pos[s], s, True) for s in range(n)])
        for s in range(n):
            nxt[s], pos[s] = e.argmax(s), pos[s] + 1
    elapsed, cpu = time.perf_counter() - start, time.thread_time() - start_cpu
    total = n * a.tokens
    # at one thread, tokens per CPU second (as decode's): run --streams 1 and
    # --streams 4 and divide for how batched decoding scales
    return {"streams": n, "tokens": total, "seconds": elapsed, "tokens_per_second": total / elapsed,
            "cpu_tokens_per_second": total / max(cpu, 1e-9)}


def instruction_sets() -> str:
    """The x86 vector features ggml's CPU backend reports as on (llama_print_system_info)."""
    info = ll.llama_print_system_info().decode()
    on = [part.split("=")[0].strip() for part in info.split("|") if part.strip().endswith("= 1")]
    return " ".join(f for f in on if f.startswith(("AVX", "FMA", "F16C", "AMX")))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("verb", choices=["decode", "prompt", "streams", "system"])
    p.add_argument("--model")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--prompt", type=int, default=16)
    p.add_argument("--streams", type=int, default=4)
    a = p.parse_args()
    quiet_logs()
    ll.llama_backend_init()
    if a.verb == "system":
        print(instruction_sets())
        return
    if not a.model:
        p.error("--model is required")
    n_seq = a.streams if a.verb == "streams" else 1
    n_ctx = max(a.prompt + a.tokens + a.streams + 8, a.tokens + 16)
    n_ctx = (n_ctx + 255) // 256 * 256
    e = Engine(a.model, a.threads, n_ctx * n_seq, n_seq)
    result = {"decode": run_decode, "prompt": run_prompt, "streams": run_streams}[a.verb](e, a)
    result.update(engine="llama.cpp", figure=a.verb, threads=a.threads, isa=instruction_sets())
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
