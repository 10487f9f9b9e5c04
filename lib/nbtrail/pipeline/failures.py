"""What a failed stage left behind: the failing cell's number in the source notebook and its
traceback as plain text, for the record and ``nbtrail --verbose``; whether it failed for want
of disk space, and the half-written executed notebook such a failure leaves."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from nbtrail.core.errors import is_disk_full

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


_NO_SPACE_VALUES = ("[Errno 28]", "[Errno 122]")  # ENOSPC, EDQUOT as str(OSError) shows them


def failed_for_space(exc: BaseException, error: dict[str, Any]) -> bool:
    """Whether a stage failed because a disk was full: in this process (papermill saving the
    executed notebook, nbtrail writing the record) or in the kernel (a cell's ``OSError``)."""
    seen: BaseException | None = exc
    for _ in range(20):  # the chain of causes, bounded
        if seen is None:
            break
        if is_disk_full(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    if error.get("ename") == "DiskFull":
        return True
    value = str(error.get("evalue") or "")
    return error.get("ename") in ("OSError", "IOError") and value.startswith(_NO_SPACE_VALUES)


def drop_unreadable_notebook(executed: Path) -> bool:
    """Remove an executed notebook that is not whole JSON (papermill's save was cut short);
    True when one was removed. A truncated file is no notebook, only a trap for its readers."""
    if not executed.is_file():
        return False
    try:
        json.loads(executed.read_bytes())
    except ValueError:
        executed.unlink(missing_ok=True)
        return True
    except OSError:
        return False
    return False


def keep_kernel_log(log: Path, dest: Path) -> bool:
    """Move the kernel's log into the run folder (across filesystems too); True when moved.

    The log is a convenience: when it cannot be moved (a full disk), it stays where it was and
    a partial copy is removed, so the stage's own error is the one reported.
    """
    if not log.is_file():
        return False
    try:
        os.replace(log, dest)
        return True
    except OSError:
        pass
    try:
        shutil.copyfile(log, dest)
    except OSError:
        dest.unlink(missing_ok=True)
        return False
    log.unlink(missing_ok=True)
    return True
