"""Entry point: `python -m moeconf` (tools/conformance/run.sh sets it up).

Runs the selected checks, prints one Markdown table, writes the JSON report,
and exits 1 if any row fails (2 on bad usage or a missing default model).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

from . import assets, report
from .checks import ALL, BY_NAME
from .context import Context
from .moectl_side import Moectl


def _args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="conformance", description="moectl against llama.cpp")
    p.add_argument("--repo", default=os.getcwd(), help="repository root (default: cwd)")
    p.add_argument("--moectl", help="moectl binary (default: <repo>/.build-conformance/release/moectl)")
    p.add_argument("--only", help=f"comma-separated subset of: {','.join(BY_NAME)}")
    p.add_argument("--quick", action="store_true", help="fewer prompts, files and tokens")
    p.add_argument("--threads", type=int, default=2, help="moectl threads")
    p.add_argument("--llama-threads", type=int, default=1, help="llama.cpp threads (see context.py)")
    p.add_argument("--qwen-dir", help="where the Qwen requantizations go (default: <cache>/qwen)")
    p.add_argument("--qwen-types", help="comma-separated subset of the qwen check's files "
                   "(Q4_K_M = the download, synth-Q2_K, synth-Q3_K_M, or a requantization such as IQ4_XS)")
    p.add_argument("--json-out", help="report path (default: <cache>/report.json, report-quick.json)")
    return p.parse_args(argv)


def _selected(only: str | None):
    if not only:
        return ALL
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise SystemExit(f"conformance: unknown check(s) {unknown}; known: {list(BY_NAME)}")
    return [BY_NAME[n] for n in names]


def main(argv: list[str]) -> int:
    args = _args(argv)
    checks = _selected(args.only)
    repo = os.path.abspath(args.repo)
    models = os.path.join(repo, "models")
    cache = os.path.join(models, "conformance")
    os.makedirs(cache, exist_ok=True)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    try:
        model = assets.default_model(models)
    except assets.AssetError as err:
        log(f"conformance: {err}")
        return 2
    binary = args.moectl or os.path.join(repo, ".build-conformance", "release", "moectl")
    ctx = Context(model=model, cache=cache, moectl=Moectl(binary), quick=args.quick,
                  threads=args.threads, llama_threads=args.llama_threads, log=log,
                  repo=repo, qwen_dir=args.qwen_dir,
                  qwen_types=args.qwen_types.split(",") if args.qwen_types else None)
    rows, started = [], time.time()
    for check in checks:
        log(f"[conformance] running {check.NAME}")
        t0 = time.time()
        rows += check.run(ctx)
        log(f"[conformance] {check.NAME} took {time.time() - t0:.0f} s")
    table = report.markdown(rows)
    print(table)
    meta = _meta(args, binary, model, time.time() - started)
    out = args.json_out or os.path.join(cache, "report-quick.json" if args.quick else "report.json")
    report.write_json(rows, out, meta)
    log(f"[conformance] JSON report: {out}")
    return 0 if all(r.passed for r in rows) else 1


def _meta(args, binary: str, model: str, seconds: float) -> dict:
    from importlib.metadata import version
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "checks": args.only or "all", "quick": args.quick, "threads": args.threads,
        "llama_threads": args.llama_threads,
        "moectl": binary, "model": model, "seconds": round(seconds, 1),
        "llama_cpp_python": version("llama-cpp-python"), "gguf": version("gguf"),
        "machine": platform.platform(), "git": _git_head(),
    }


def _git_head() -> str:
    """The commit the engine was built from, '+dirty' if the tree had edits."""
    import subprocess
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        head = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
