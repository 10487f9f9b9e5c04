"""nbtrail: notebook-first MLOps. Notebooks call :func:`start`; everything else is the library.

import nbtrail
run = nbtrail.start("train", globals())

The practice modules notebooks use are re-exported lazily, so ``from nbtrail import evaluation``
keeps working and ``import nbtrail`` stays cheap (see ``lib/nbtrail/README.md`` for the map).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["start", "Run", "__version__"]

if TYPE_CHECKING:
    from .notebook.run import Run

# name -> module that holds it; imported on first attribute access
_REEXPORTS = {
    "evaluation": "nbtrail.practices.evaluation",
    "abtest": "nbtrail.practices.abtest",
    "monitoring": "nbtrail.practices.monitoring",
    "export": "nbtrail.practices.export",
    "registry": "nbtrail.practices.registry",
    "reports": "nbtrail.practices.reports",
    "models": "nbtrail.practices.models",
    "sources": "nbtrail.practices.sources",
    "training": "nbtrail.practices.training",
    "datasets": "nbtrail.data.datasets",
    "errors": "nbtrail.core.errors",
    "stages": "nbtrail.stages",
    "widgets": "nbtrail.widgets",
}


def start(stage: str, namespace: dict[str, Any] | None = None, *, root: str | None = None) -> Run:
    """Begin the run of ``stage`` (see :mod:`nbtrail.notebook.run`)."""
    from .notebook.run import start as _start

    return _start(stage, namespace, root=root)


def __getattr__(name: str) -> Any:
    if name == "Run":
        from .notebook.run import Run

        return Run
    if name in _REEXPORTS:
        return importlib.import_module(_REEXPORTS[name])
    raise AttributeError(name)
