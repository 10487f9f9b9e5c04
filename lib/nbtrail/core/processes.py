"""Whether a process still exists: how a ``running`` record or a temp file of a writer that
was killed is told apart from one still in progress."""

from __future__ import annotations

import os


def pid_alive(pid: int | None) -> bool:
    """True when a process with ``pid`` exists (also when it belongs to another user)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
