"""The task and its inputs: which task a target is, the target as an array, the scores
checked against it, and the columns a parameter names."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from nbtrail.core.errors import DataError, ParameterError
from nbtrail.practices.evaluation.metrics import metrics_for
from nbtrail.practices.tasks import canonical_task, task_of


def infer_task(y: Sequence[Any] | np.ndarray | pd.Series) -> str:
    """``"binary"``, ``"multiclass"`` or ``"regression"``: the task a target is, by the one
    rule the train stage uses too (:func:`nbtrail.practices.tasks.task_of`)."""
    return task_of(y)


def class_codes(y: Sequence[Any] | np.ndarray | pd.Series, classes: Sequence[Any]) -> np.ndarray:
    """Each target value's position in ``classes`` (the columns of the probabilities);
    a value that is not one of them is refused."""
    arr = np.asarray(y)
    listed = list(classes)
    codes = np.full(len(arr), -1, dtype=np.int64)
    for i, c in enumerate(listed):
        codes[arr == c] = i
    if (codes < 0).any():
        unknown = sorted(map(str, pd.unique(arr[codes < 0]).tolist()))[:5]
        raise DataError(
            f"target value(s) {', '.join(unknown)} are not classes of the model "
            f"({', '.join(map(str, listed))})",
            hint="the holdout has classes the model never saw in training",
        )
    return codes


def binary_labels(y: Sequence[Any] | np.ndarray | pd.Series, pos_label: Any = 1) -> np.ndarray:
    """``y`` as a 0/1 int array where 1 means ``pos_label``."""
    arr = np.asarray(y)
    values = set(pd.unique(arr).tolist())
    if len(values) > 2:
        raise DataError(f"a binary target was expected; found {len(values)} distinct values")
    if pos_label not in values and len(values) == 2:
        raise ParameterError(
            f"pos_label {pos_label!r} is not a value of the target "
            f"(values: {sorted(map(str, values))})",
            parameter="pos_label",
        )
    return (arr == pos_label).astype(np.int8)


def require_columns(frame: pd.DataFrame, columns: Iterable[str], parameter: str) -> None:
    """Raise :class:`ParameterError` naming ``parameter`` when a column is not in ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        shown = ", ".join(map(str, list(frame.columns)[:12]))
        more = "" if len(frame.columns) <= 12 else f", ... ({len(frame.columns)} in all)"
        raise ParameterError(
            f"parameter {parameter!r} names column(s) not in the data: "
            f"{', '.join(map(repr, missing))}; available: {shown}{more}",
            parameter=parameter,
        )


def target_classes(y_true: Any, classes: Sequence[Any] | None) -> list[Any]:
    """The classes of a multiclass target: ``classes`` (the model's) or, when None, the
    sorted distinct values of ``y_true``."""
    if classes is not None:
        return list(classes)
    return sorted(pd.unique(np.asarray(y_true)).tolist())


def prepare_target(
    y_true: Any,
    task: str | None,
    metrics: Sequence[str] | None,
    pos_label: Any,
    classes: Sequence[Any] | None = None,
) -> tuple[str, np.ndarray, tuple[str, ...]]:
    """The task (inferred when None), the target as an array (0/1 for binary, the index in
    ``classes`` for multiclass) and the metrics to compute (the task's defaults when
    None, MAPE left out when a target value is 0)."""
    task = canonical_task(task) if task else infer_task(y_true)
    if task == "binary":
        y = binary_labels(y_true, pos_label)
    elif task == "multiclass":
        y = class_codes(y_true, target_classes(y_true, classes))
    else:
        y = np.asarray(y_true, dtype=np.float64)
    return task, y, tuple(metrics or metrics_for(task, y)[0])


def scores_for(
    y: np.ndarray,
    score: Any,
    *,
    what: str = "scores",
    context: str = "",
    columns: int | None = None,
) -> np.ndarray:
    """``score`` as a float array, one finite value per target value, or with ``columns``
    one row of that many class probabilities per target value (``context`` leads the
    message when the lengths differ)."""
    s = np.asarray(score, dtype=np.float64)
    expected = y.shape if columns is None else (len(y), columns)
    if s.shape != expected:
        if s.ndim and s.shape[0] == len(y):
            raise DataError(f"{what} of shape {s.shape}; expected {expected}")
        raise DataError(f"{context}{len(s)} {what} for {len(y)} target values")
    if not np.isfinite(s).all():
        raise DataError(f"the {what} contain NaN or infinite values")
    return s
