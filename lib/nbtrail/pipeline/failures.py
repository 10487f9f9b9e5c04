"""What a failed stage left behind: the failing cell's number in the source notebook and its
traceback as plain text, for the record and ``nbtrail --verbose``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def traceback_text(exc: BaseException, limit: int = 20_000) -> str:
    """The failing cell's traceback as plain text (papermill's lines lose their colours)."""
    lines = getattr(exc, "traceback", None)
    if isinstance(lines, list) and lines:
        text = "\n".join(_ANSI.sub("", str(line)) for line in lines)
    else:
        import traceback

        text = "".join(traceback.format_exception(exc))
    return text[-limit:]


def cell_number(source_nb: dict[str, Any], executed: Path) -> int | None:
    """The failing cell's 1-based position among the *source* notebook's cells: the executed
    cell holding an error output, matched back by its source (papermill inserts cells)."""
    if not executed.is_file():
        return None
    try:
        cells = json.loads(executed.read_text())["cells"]
    except (ValueError, KeyError):
        return None
    failing = [
        c
        for c in cells
        if c.get("cell_type") == "code"
        and any(o.get("output_type") == "error" for o in c.get("outputs", []))
    ]
    if not failing:
        return None
    src = "".join(failing[-1].get("source", ""))
    for i, cell in enumerate(source_nb.get("cells", []), start=1):
        if "".join(cell.get("source", "")) == src:
            return i
    return None


def describe_failure(exc: BaseException, source: Path, executed: Path) -> dict[str, Any]:
    """The record's ``error`` for ``exc``: name, value, failing cell (in ``source``'s
    numbering) and traceback; a KeyboardInterrupt is marked ``interrupted``."""
    from nbtrail.pipeline.parameters import read_notebook

    if isinstance(exc, KeyboardInterrupt):
        return {"ename": "KeyboardInterrupt", "evalue": "interrupted", "interrupted": True}
    ename = getattr(exc, "ename", None) or type(exc).__name__
    evalue = getattr(exc, "evalue", None) or str(exc)
    return {
        "ename": str(ename),
        "evalue": str(evalue)[:2000],
        "cell": cell_number(read_notebook(source), executed),
        "traceback": traceback_text(exc),
    }
