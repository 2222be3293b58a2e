"""One row per (check, file); printed as a Markdown table and saved as JSON."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass
class Row:
    check: str              # e.g. "f32 logits", "kernels real", "ppl"
    file: str               # the GGUF (or vocabulary) it was run on
    figure: str             # what we measured, human-readable
    bound: str              # what it must be
    passed: bool
    detail: str = ""        # why it failed, or what was skipped
    data: dict = field(default_factory=dict)  # raw numbers for the JSON

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"


def error_row(check: str, file: str, err: Exception) -> Row:
    """A check that could not run is a failure, with the reason in the row."""
    return Row(check, file, "error", "-", False, f"{type(err).__name__}: {err}")


def markdown(rows: list[Row]) -> str:
    lines = ["| check | file | figure | bound | result |", "|---|---|---|---|---|"]
    for r in rows:
        figure = r.figure if r.passed or not r.detail else f"{r.figure} — {_short(r.detail)}"
        lines.append(f"| {r.check} | {r.file} | {_cell(figure)} | {_cell(r.bound)} | {r.verdict} |")
    passed = sum(r.passed for r in rows)
    lines.append("")
    lines.append(f"{passed}/{len(rows)} rows pass.")
    return "\n".join(lines)


def _short(text: str, limit: int = 240) -> str:
    """The table stays readable; the JSON keeps the full reason."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_json(rows: list[Row], path: str, meta: dict) -> None:
    doc = {"meta": meta, "rows": [asdict(r) | {"result": r.verdict} for r in rows]}
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, default=_plain)


def _plain(value):
    """numpy scalars and arrays into JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
