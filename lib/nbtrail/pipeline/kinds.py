"""Parameter values checked before any kernel starts, beyond their type: values that name a
dataset, a model, a source or batches, and values a notebook cannot be given at all.

A parameters cell declares a name-kind with a string annotation, which Python stores and
never evaluates, so the cell still runs as it is under plain papermill or in JupyterLab::

    source: "DataSource" = "sklearn:breast_cancer"
    dataset_name: "DatasetName" = None

The checks are the data layer's own (:func:`nbtrail.data.versions.check_name`,
:mod:`nbtrail.data.sourceref`), so what the runner refuses up front is what the stage
would have refused in its kernel, only without starting one.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nbtrail.core.errors import NbtrailError, ParameterError
from nbtrail.data.sourceref import check_batches, check_source
from nbtrail.data.versions import check_name


def _dataset_name(value: str, root: Path) -> None:
    check_name(value, "dataset name")


def _model_name(value: str, root: Path) -> None:
    check_name(value, "model name")


def _source(value: str, root: Path) -> None:
    check_source(value, root)


def _batches(value: str, root: Path) -> None:
    check_batches(value, root)


# name-kind -> its check; each declares its parameter a ``str`` (or None)
KINDS: dict[str, Callable[[str, Path], None]] = {
    "DatasetName": _dataset_name,
    "ModelName": _model_name,
    "DataSource": _source,
    "Batches": _batches,
}


def check_kind(stage: str, name: str, kind: str, value: Any, root: Path) -> None:
    """Raise the data layer's error for ``value``, naming the stage and the parameter."""
    if value is None or not isinstance(value, str):
        return  # the type check (``coerce``) has already refused a non-string
    try:
        KINDS[kind](value, root)
    except NbtrailError as exc:
        where = f"stage {stage!r}, parameter {name!r}: "
        if isinstance(exc, ParameterError):
            raise ParameterError(exc.message, stage=stage, parameter=name, hint=exc.hint) from None
        err = type(exc)(where + exc.message, hint=exc.hint, **exc.facts)
        err.__dict__.update(stage=stage, parameter=name)
        raise err from None


def check_plain(stage: str, name: str, value: Any) -> None:
    """Refuse what a notebook cannot be given as it was written: anything but None, bool,
    int, finite float, str, and lists and string-keyed mappings of them (YAML also makes
    dates, bytes, sets and non-string keys; a record keeps only JSON)."""
    bad = _first_unplain(value, 0)
    if bad is not None:
        raise ParameterError(
            f"parameter {name!r}: {bad}, which a notebook cannot be given",
            stage=stage,
            parameter=name,
            hint="quote a value to pass it as text, e.g. -p 'data.dataset_name=\"2026-01-01\"'",
        )


MAX_DEPTH = 50


def _first_unplain(value: Any, depth: int) -> str | None:
    """What is wrong with ``value`` (its first part a notebook cannot be given), or None."""
    if depth > MAX_DEPTH:
        return f"a value nested more than {MAX_DEPTH} deep"
    if value is None or isinstance(value, (bool, int, str)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} is not a finite number"
    if isinstance(value, (list, tuple)):
        return next((b for b in (_first_unplain(v, depth + 1) for v in value) if b), None)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"the mapping key {_short(key)} is not text ({type(key).__name__})"
            bad = _first_unplain(item, depth + 1)
            if bad is not None:
                return bad
        return None
    what = "a date" if isinstance(value, datetime.date) else f"a {type(value).__name__}"
    return f"{_short(value)} is {what}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."
