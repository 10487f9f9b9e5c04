"""nbtrail: notebook-first MLOps. Notebooks call :func:`start`; everything else is the library.

import nbtrail
run = nbtrail.start("train", globals())
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["start", "Run", "__version__"]

if TYPE_CHECKING:
    from .context import Run


def start(stage: str, namespace: dict[str, Any] | None = None, *, root: str | None = None) -> Run:
    """Begin the run of ``stage`` (see :mod:`nbtrail.context`)."""
    from .context import start as _start

    return _start(stage, namespace, root=root)


def __getattr__(name: str) -> Any:
    if name == "Run":
        from .context import Run

        return Run
    raise AttributeError(name)
