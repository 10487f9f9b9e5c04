"""The task and its inputs: which task a target is, the target as an array, the scores
checked against it, and the columns a parameter names."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from nbtrail.core.errors import DataError, ParameterError
from nbtrail.practices.evaluation.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS


def infer_task(y: Sequence[Any] | np.ndarray | pd.Series) -> str:
    """``"classification"`` for a binary target, ``"regression"`` for a numeric one."""
    s = pd.Series(np.asarray(y))
    if s.isna().any():
        raise DataError("the target has missing values", hint="drop or fill them first")
    n_unique = s.nunique()
    if pd.api.types.is_bool_dtype(s) or n_unique <= 2:
        return "classification"
    if pd.api.types.is_numeric_dtype(s):
        return "regression"
    raise DataError(
        f"the target has {n_unique} distinct non-numeric values: only binary classification "
        "and numeric regression targets are supported"
    )


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


def prepare_target(
    y_true: Any, task: str | None, metrics: Sequence[str] | None, pos_label: Any
) -> tuple[str, np.ndarray, tuple[str, ...]]:
    """The task (inferred when None), the target as an array (0/1 for classification) and the
    metrics to compute (the task's defaults when None)."""
    task = task or infer_task(y_true)
    if task == "classification":
        return task, binary_labels(y_true, pos_label), tuple(metrics or CLASSIFICATION_METRICS)
    if task == "regression":
        y = np.asarray(y_true, dtype=np.float64)
        return task, y, tuple(metrics or REGRESSION_METRICS)
    raise ParameterError(
        f"task must be 'classification' or 'regression', got {task!r}", parameter="task"
    )


def scores_for(y: np.ndarray, score: Any, *, what: str = "scores", context: str = "") -> np.ndarray:
    """``score`` as a float array, one finite value per target value (``context`` leads the
    message when the lengths differ)."""
    s = np.asarray(score, dtype=np.float64)
    if s.shape != y.shape:
        raise DataError(f"{context}{len(s)} {what} for {len(y)} target values")
    if not np.isfinite(s).all():
        raise DataError(f"the {what} contain NaN or infinite values")
    return s
