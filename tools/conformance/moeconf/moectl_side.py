"""Our engine, driven through the `moectl` CLI contract.

Each verb is one subprocess returning parsed JSON. A verb that fails (not
built yet, crashed, printed something that is not JSON) raises MoectlError
with the command line and the tail of stderr, so the report can say exactly
what broke instead of the harness dying.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np


class MoectlError(RuntimeError):
    """moectl failed or broke its JSON contract."""


@dataclass
class Moectl:
    binary: str
    timeout: float = 1800.0

    def _call(self, args: list[str]) -> subprocess.CompletedProcess:
        cmd = [self.binary, *args]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=self.timeout)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise MoectlError(f"{_show(cmd)}: {err}") from err
        if proc.returncode != 0:
            tail = proc.stderr.decode("utf-8", "replace").strip()[-400:]
            raise MoectlError(f"{_show(cmd)} exited {proc.returncode}: {tail}")
        return proc

    def _json(self, args: list[str]) -> dict:
        proc = self._call(args)
        try:
            return json.loads(proc.stdout.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            head = proc.stdout[:200]
            raise MoectlError(f"{_show([self.binary, *args])} printed no JSON ({err}): {head!r}") from err

    # Verbs --------------------------------------------------------------

    def tokenize(self, model: str, text: str) -> list[int]:
        out = self._json(["tokenize", "--model", model, "--json", "--", text])
        return _ints(out, "tokens")

    def run_greedy(self, model: str, prompt: str, max_tokens: int, *, threads: int = 2,
                   kv_type: str | None = None) -> dict:
        """Greedy raw completion; returns the JSON object (prompt_tokens, tokens, ...)."""
        out = self._json(["run", "--model", model, "--threads", str(threads),
                          "--max-tokens", str(max_tokens), "--temperature", "0",
                          *_kv_args(kv_type), "--raw", "--json", "--", prompt])
        _ints(out, "prompt_tokens")
        _ints(out, "tokens")
        return out

    def run_logprobs(self, model: str, prompt: str, top: int, *, threads: int = 2,
                     kv_type: str | None = None) -> dict:
        """One greedy raw token with --logprobs TOP; returns the first
        logprobs entry (id, logprob, top_logprobs [{id, logprob}])."""
        out = self._json(["run", "--model", model, "--threads", str(threads), "--max-tokens", "1",
                          "--temperature", "0", "--logprobs", str(top), "--raw", "--json",
                          *_kv_args(kv_type), "--", prompt])
        entries = out.get("logprobs")
        if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], dict):
            raise MoectlError(f"run --logprobs gave no single logprobs entry: {str(out)[:200]}")
        return entries[0]

    def score_tokens(self, model: str, tokens: list[int], *, want_logits: bool = False,
                     n_vocab: int | None = None, threads: int = 2, kv_type: str | None = None) -> dict:
        """Teacher-forced scoring; with want_logits adds out['logits'] [n, n_vocab]."""
        args = ["score", "--model", model, "--threads", str(threads), "--json", *_kv_args(kv_type),
                "--tokens", ",".join(map(str, tokens))]
        if not want_logits:
            return self._checked_score(self._json(args), len(tokens))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "logits.f32")
            out = self._checked_score(self._json([*args, "--logits-out", path]), len(tokens))
            raw = np.fromfile(path, dtype="<f4")
        if n_vocab is None or raw.size != len(tokens) * n_vocab:
            raise MoectlError(f"--logits-out wrote {raw.size} floats, expected {len(tokens)} x {n_vocab}")
        out["logits"] = raw.reshape(len(tokens), n_vocab)
        return out

    def dequantize(self, model: str, tensor: str) -> np.ndarray:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "tensor.f32")
            self._call(["dequantize", "--model", model, "--tensor", tensor, "--out", path])
            return np.fromfile(path, dtype="<f4")

    @staticmethod
    def _checked_score(out: dict, n: int) -> dict:
        if len(_ints(out, "tokens")) != n:
            raise MoectlError(f"score returned {len(out['tokens'])} tokens for {n} given")
        for key, want in (("predictions", n), ("logprobs", n - 1)):
            if not isinstance(out.get(key), list) or len(out[key]) != want:
                raise MoectlError(f"score: '{key}' missing or not {want} long")
        return out


def _ints(obj: dict, key: str) -> list[int]:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
        raise MoectlError(f"moectl JSON has no integer list '{key}'")
    return value


def _show(cmd: list[str]) -> str:
    shown = [a if len(a) < 60 else a[:57] + "..." for a in cmd]
    return " ".join(shown)


def _kv_args(kv_type: str | None) -> list[str]:
    """--kv-type for moectl, or nothing for its default (F16)."""
    return ["--kv-type", kv_type] if kv_type else []
