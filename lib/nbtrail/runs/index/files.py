"""The files a run record names, checked cheaply when the record is indexed.

A completed run's folder holds its executed notebook and the outputs written under it. When
one is missing, or the notebook is not a JSON document any more (truncated, overwritten), the
run stays listed and the index keeps a problem naming the file (``nbtrail index problems``).
The check costs a ``stat`` per file and two small reads per notebook (its first and last
bytes), not a parse: a notebook that is well-formed JSON but not a valid notebook passes. The
reads are skipped for a notebook whose ``mtime_ns:size`` is the one last found sound.

Paths are plain strings here: :func:`file_problems` runs once per record on a rebuild, where
``pathlib`` costs more than the ``stat`` calls themselves.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_EDGE = 64  # bytes read at each end of a notebook


def _looks_like_json_object(path: str, size: int) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(_EDGE)
        if size > _EDGE:
            fh.seek(size - _EDGE)
        tail = head if size <= _EDGE else fh.read(_EDGE)
    return head.lstrip().startswith(b"{") and tail.rstrip().endswith(b"}")


@dataclass
class FileCheck:
    """What is wrong with a record's files, and its notebook's ``mtime_ns:size`` when the
    notebook was found sound (None otherwise: checked again next time)."""

    problems: list[str] = field(default_factory=list)
    notebook_stat: str | None = None


def file_problems(
    root: str, runs_rel: str, rec: Mapping[str, Any], sound: str | None = None
) -> FileCheck:
    """Check the files a completed record names inside its run folder (nothing for other
    statuses: a running, failed or cached run need not have them all). ``root`` is the
    workspace root, ``runs_rel`` the runs folder relative to it, ``sound`` the notebook's
    ``mtime_ns:size`` when it was last found sound."""
    check = FileCheck()
    if rec.get("status") != "completed" or rec.get("cached_from"):
        return check
    executed = (rec.get("notebook") or {}).get("executed")
    if isinstance(executed, str) and executed:
        p = executed if executed.startswith("/") else f"{root}/{executed}"
        try:
            st = os.stat(p)
        except OSError:
            check.problems.append(f"executed notebook {executed} is missing")
        else:
            stamp = f"{st.st_mtime_ns}:{st.st_size}"
            try:
                if stamp == sound or _looks_like_json_object(p, st.st_size):
                    check.notebook_stat = stamp
                else:
                    check.problems.append(
                        f"executed notebook {executed} is malformed (not a JSON notebook)"
                    )
            except OSError as exc:
                check.problems.append(f"executed notebook {executed} is unreadable ({exc})")
    prefix = f"{runs_rel}/{rec['run_id']}/"
    for name, art in sorted((rec.get("outputs") or {}).items()):
        path = art.get("path") if isinstance(art, Mapping) else None
        if isinstance(path, str) and path.startswith(prefix):
            try:
                os.stat(f"{root}/{path}")
            except OSError:
                check.problems.append(f"output {name!r} ({path}) is missing")
    return check
