"""Trusting executed notebooks, so JupyterLab renders their reports (papermill's output is not)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _notary(data_dir: str | None) -> Any:
    from nbformat.sign import NotebookNotary

    kw: dict[str, Any] = {"data_dir": data_dir} if data_dir else {}
    if data_dir:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
    notary = NotebookNotary(**kw)
    Path(notary.data_dir).mkdir(parents=True, exist_ok=True)
    return notary


def trust_notebook(path: str | os.PathLike[str], data_dir: str | None = None) -> bool:
    """Sign an executed notebook so JupyterLab renders its reports; True if now trusted.

    Uses nbformat's ``NotebookNotary`` (the user's Jupyter data dir unless ``data_dir`` is
    given): the signature goes into the notary database, the notebook file is not changed.
    """
    import nbformat

    notary = _notary(data_dir)
    nb = nbformat.read(os.fspath(path), as_version=4)
    notary.sign(nb)
    return bool(notary.check_signature(nb))


def is_trusted(path: str | os.PathLike[str], data_dir: str | None = None) -> bool:
    """Whether the notary has ``path``'s current content signed."""
    import nbformat

    nb = nbformat.read(os.fspath(path), as_version=4)
    return bool(_notary(data_dir).check_signature(nb))
