"""llama.cpp, the reference, through llama-cpp-python's low-level C API.

Everything here talks to `llama_cpp.llama_cpp` directly (not the high-level
`Llama` class) so that we control exactly what the reference does: which KV
cache type, flash attention or not, logits at which positions, greedy
argmax over raw logits with no sampler chain in between.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np
import llama_cpp.llama_cpp as ll

GGML_TYPE_F32 = 0
# KV cache types by the name moectl's --kv-type takes.
KV_TYPES = {"f32": 0, "f16": 1, "q8_0": 8}

# Quiet llama.cpp's stderr chatter; the callback must outlive every call.
_silence = ll.llama_log_callback(lambda level, text, user_data: None)
ll.llama_log_set(_silence, ctypes.c_void_p())
ll.llama_backend_init()


class LlamaError(RuntimeError):
    """llama.cpp refused something; the message says what and on which file."""


@dataclass
class Scored:
    """Teacher-forced evaluation of one token sequence."""
    tokens: list[int]
    top1: np.ndarray        # [n] argmax after tokens[0...i]
    margin: np.ndarray      # [n] top-1 minus top-2 logit at each position
    logprobs: np.ndarray    # [n-1] log p(tokens[i+1] | tokens[0...i])

    @property
    def perplexity(self) -> float:
        return float(np.exp(-np.mean(self.logprobs)))


@dataclass
class Generated:
    """A greedy continuation and llama.cpp's own confidence at each step."""
    prompt_tokens: list[int]
    tokens: list[int]       # generated ids, the end-of-generation id excluded
    margins: list[float]    # top-1 minus top-2 logit at each step (len(tokens)+1 if stopped by EOG)
    stopped_by_eog: bool
    first_logits: np.ndarray  # logits at the last prompt position


def _top2(logits: np.ndarray) -> tuple[int, float]:
    """Argmax (lowest id on ties, like ggml's greedy sampler) and top-2 margin."""
    best = int(np.argmax(logits))
    second = np.partition(logits, -2)[-2]
    return best, float(logits[best] - second)


def _log_softmax_at(logits: np.ndarray, token: int) -> float:
    z = logits.astype(np.float64)
    m = z.max()
    return float(z[token] - m - np.log(np.exp(z - m).sum()))


class LlamaModel:
    """One GGUF file loaded into llama.cpp; use as a context manager."""

    def __init__(self, path: str, *, vocab_only: bool = False):
        self.path = path
        params = ll.llama_model_default_params()
        params.vocab_only = vocab_only
        params.n_gpu_layers = 0
        self.model = ll.llama_model_load_from_file(path.encode(), params)
        if not self.model:
            raise LlamaError(f"llama.cpp could not load {path}")
        self.vocab = ll.llama_model_get_vocab(self.model)
        self.n_vocab = ll.llama_vocab_n_tokens(self.vocab)

    def close(self) -> None:
        if self.model:
            ll.llama_model_free(self.model)
            self.model = None

    def __enter__(self) -> "LlamaModel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # Tokenization -------------------------------------------------------

    def tokenize(self, text: str, *, add_special: bool = True, parse_special: bool = True) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 16
        for _ in range(2):
            buf = (ll.llama_token * capacity)()
            n = ll.llama_tokenize(self.vocab, data, len(data), buf, capacity, add_special, parse_special)
            if n >= 0:
                return list(buf[:n])
            capacity = -n  # buffer too small: llama.cpp tells us the size it needs
        raise LlamaError(f"llama_tokenize failed on {len(data)} bytes with {self.path}")

    def is_eog(self, token: int) -> bool:
        return bool(ll.llama_vocab_is_eog(self.vocab, token))

    # Evaluation ---------------------------------------------------------

    def _context(self, n_ctx: int, *, f32_kv: bool, threads: int, kv_type: str | None = None):
        params = ll.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = n_ctx
        params.n_ubatch = min(n_ctx, 512)
        params.n_seq_max = 1
        params.n_threads = threads
        params.n_threads_batch = threads
        params.flash_attn_type = ll.LLAMA_FLASH_ATTN_TYPE_DISABLED
        if f32_kv:
            params.type_k = GGML_TYPE_F32
            params.type_v = GGML_TYPE_F32
        if kv_type is not None:
            params.type_k = KV_TYPES[kv_type]
            params.type_v = KV_TYPES[kv_type]
            if kv_type == "q8_0":
                # llama.cpp refuses a quantized V cache without flash attention.
                params.flash_attn_type = ll.LLAMA_FLASH_ATTN_TYPE_ENABLED
        ctx = ll.llama_init_from_model(self.model, params)
        if not ctx:
            raise LlamaError(f"llama_init_from_model failed for {self.path} (n_ctx {n_ctx})")
        return ctx

    def _decode(self, ctx, tokens: list[int], start: int, *, all_logits: bool) -> None:
        batch = ll.llama_batch_init(len(tokens), 0, 1)
        try:
            batch.n_tokens = len(tokens)
            for i, tok in enumerate(tokens):
                batch.token[i] = tok
                batch.pos[i] = start + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = all_logits or i == len(tokens) - 1
            rc = ll.llama_decode(ctx, batch)
            if rc != 0:
                raise LlamaError(f"llama_decode returned {rc} on {self.path}")
        finally:
            ll.llama_batch_free(batch)

    def _logits(self, ctx, i: int) -> np.ndarray:
        ptr = ll.llama_get_logits_ith(ctx, i)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()

    def score(self, tokens: list[int], *, f32_kv: bool = False, threads: int = 2,
              kv_type: str | None = None) -> Scored:
        """Logits for every position in one context, as `moectl score` does."""
        n = len(tokens)
        ctx = self._context(n + 8, f32_kv=f32_kv, threads=threads, kv_type=kv_type)
        try:
            self._decode(ctx, tokens, 0, all_logits=True)
            top1 = np.zeros(n, dtype=np.int64)
            margin = np.zeros(n)
            logprobs = np.zeros(max(n - 1, 0))
            for i in range(n):
                row = self._logits(ctx, i)
                top1[i], margin[i] = _top2(row)
                if i + 1 < n:
                    logprobs[i] = _log_softmax_at(row, tokens[i + 1])
        finally:
            ll.llama_free(ctx)
        return Scored(list(tokens), top1, margin, logprobs)

    def greedy(self, prompt_tokens: list[int], max_tokens: int, *, f32_kv: bool = False,
               threads: int = 2) -> Generated:
        """Argmax decoding, one token at a time, stopping at end-of-generation."""
        ctx = self._context(len(prompt_tokens) + max_tokens + 8, f32_kv=f32_kv, threads=threads)
        try:
            self._decode(ctx, prompt_tokens, 0, all_logits=False)
            logits = self._logits(ctx, -1)
            first = logits.copy()
            out, margins, eog = [], [], False
            for step in range(max_tokens):
                tok, margin = _top2(logits)
                margins.append(margin)
                if self.is_eog(tok):
                    eog = True
                    break
                out.append(tok)
                if step + 1 < max_tokens:
                    self._decode(ctx, [tok], len(prompt_tokens) + step, all_logits=False)
                    logits = self._logits(ctx, -1)
        finally:
            ll.llama_free(ctx)
        return Generated(list(prompt_tokens), out, margins, eog, first)


def quantize(src: str, dst: str, ftype: int, *, threads: int = 2) -> None:
    """Requantize a GGUF with llama.cpp's own quantizer (`llama-quantize`)."""
    params = ll.llama_model_quantize_default_params()
    params.nthread = threads
    params.ftype = ftype
    params.allow_requantize = True
    rc = ll.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        raise LlamaError(f"llama_model_quantize {src} -> {dst} (ftype {ftype}) returned {rc}")


FTYPES = {
    "F16": ll.LLAMA_FTYPE_MOSTLY_F16,
    "BF16": ll.LLAMA_FTYPE_MOSTLY_BF16,
    "Q8_0": ll.LLAMA_FTYPE_MOSTLY_Q8_0,
    "Q4_0": ll.LLAMA_FTYPE_MOSTLY_Q4_0,
    "Q4_1": ll.LLAMA_FTYPE_MOSTLY_Q4_1,
    "Q5_0": ll.LLAMA_FTYPE_MOSTLY_Q5_0,
    "Q5_1": ll.LLAMA_FTYPE_MOSTLY_Q5_1,
    "Q4_K_M": ll.LLAMA_FTYPE_MOSTLY_Q4_K_M,
    "Q5_K_M": ll.LLAMA_FTYPE_MOSTLY_Q5_K_M,
    "Q6_K": ll.LLAMA_FTYPE_MOSTLY_Q6_K,
    # the low-bit types of the Qwen rows (checks/qwen.py)
    "Q2_K": ll.LLAMA_FTYPE_MOSTLY_Q2_K,
    "Q3_K_S": ll.LLAMA_FTYPE_MOSTLY_Q3_K_S,
    "Q3_K_M": ll.LLAMA_FTYPE_MOSTLY_Q3_K_M,
    "Q3_K_L": ll.LLAMA_FTYPE_MOSTLY_Q3_K_L,
    "IQ4_NL": ll.LLAMA_FTYPE_MOSTLY_IQ4_NL,
    "IQ4_XS": ll.LLAMA_FTYPE_MOSTLY_IQ4_XS,
}
