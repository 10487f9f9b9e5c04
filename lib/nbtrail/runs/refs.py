"""What a person may type to name a run (``reproduce``, ``show``, ``diff``, ``publish --run``)
or a lineage target, checked before anything is looked up or any kernel starts.

A run reference is a run id (``STAGE-YYYYmmddTHHMMSS-HEX``), a unique prefix of one, a stage
name or ``STAGE~N``: letters, digits, ``_``, ``-`` and ``~``. A lineage target may also be a
path or ``RUN:OUTPUT``, so it only has to be printable text of a sane length. Anything else
is :class:`NotFound` (there is no such run) in one short line.
"""

from __future__ import annotations

import re

from nbtrail.core.errors import NotFound

MAX_RUN_REF = 200
MAX_TARGET = 4096  # PATH_MAX
MAX_BACK = 10**9  # STAGE~N: further back than any workspace goes, and within SQLite's integers
_RUN_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_~-]*")
_RUN_HINT = "give a run id, a unique prefix of one, STAGE or STAGE~N; see `nbtrail runs`"


def shown(text: object) -> str:
    """``text`` as a short, escaped ``repr`` (control characters never reach the terminal)."""
    s = text if isinstance(text, str) else str(text)
    return repr(s) if len(s) <= 60 else repr(s[:60]) + f"... ({len(s)} chars)"


def check_run_ref(ref: str) -> str:
    """``ref`` when it could name a run; else :class:`NotFound` saying what a ref looks like."""
    if not isinstance(ref, str) or not 0 < len(ref) <= MAX_RUN_REF or not _RUN_REF.fullmatch(ref):
        raise NotFound(f"no run {shown(ref)}: not a run reference", hint=_RUN_HINT)
    return ref


def check_target(target: str) -> str:
    """``target`` when it is printable text up to ``MAX_TARGET`` characters (a lineage target:
    a run reference, ``RUN:OUTPUT``, ``NAME@VERSION``, a digest or a path)."""
    if not isinstance(target, str) or not 0 < len(target) <= MAX_TARGET or not target.isprintable():
        raise NotFound(
            f"nothing known as {shown(target)}: not printable text of 1-{MAX_TARGET} characters",
            hint="give a run id, STAGE, RUN:OUTPUT, STAGE:METRIC, NAME@VERSION, a digest or a path",
        )
    return target
