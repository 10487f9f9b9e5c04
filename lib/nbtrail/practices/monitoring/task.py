"""The task a monitored model solves, the metrics its labelled batches are held to, and the
prediction columns its drift is tested on.

Tasks are ``binary``, ``multiclass`` and ``regression``. The evaluate stage may name a
classifier ``classification`` (one name for both kinds): :func:`monitor_task` tells them apart
by the model's classes.

Prediction columns, tested with the input columns (one more member of the drift family):

- binary: ``prediction``, the probability of the positive class (``classes_[1]``), KS;
- multiclass: ``prediction``, the predicted class, chi-square on the class shares, and
  ``prediction_confidence``, the largest class probability, KS;
- regression: ``prediction``, the predicted value, KS.

A classifier without ``predict_proba`` has its predicted class as ``prediction`` (chi-square).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nbtrail.core.errors import ParameterError
from nbtrail.practices.monitoring.verdict import CONFIDENCE, PREDICTION
from nbtrail.practices.training import task_of

BINARY, MULTICLASS, REGRESSION = "binary", "multiclass", "regression"
TASKS = (BINARY, MULTICLASS, REGRESSION)
CLASSIFICATION = "classification"  # the evaluate stage's name for either kind of classifier

# The metrics a labelled batch is checked on, the first one the verdict's headline metric.
TASK_METRICS: dict[str, tuple[str, ...]] = {
    BINARY: ("accuracy",),
    MULTICLASS: ("accuracy", "balanced_accuracy"),
    REGRESSION: ("mae", "rmse"),
}
ERROR_METRICS = frozenset({"mae", "rmse"})  # lower is better: degradation is an increase


def _n_classes(model: Any) -> int | None:
    classes = getattr(model, "classes_", None)  # a Pipeline forwards its last step's
    return None if classes is None else len(classes)


def monitor_task(model: Any, task: str | None = None) -> str | None:
    """``binary``, ``multiclass`` or ``regression``. A model with classes (``classes_``) is a
    classifier, binary or multiclass by their number, whatever ``task`` says; otherwise
    ``task`` as given (``classification``: binary), or a regression for a model without
    classes. None when there is neither a model nor a task."""
    if task is not None and task not in (*TASKS, CLASSIFICATION):
        raise ParameterError(
            f"task must be one of {', '.join((*TASKS, CLASSIFICATION))}, got {task!r}",
            parameter="task",
        )
    n = None if model is None else _n_classes(model)
    if n is not None:
        return MULTICLASS if n > 2 else BINARY
    if task in TASKS:
        return task
    if task == CLASSIFICATION:
        return BINARY
    return None if model is None else REGRESSION


def target_task(y: pd.Series) -> str:
    """The task of a target when no model says it (the demo batches of a bare frame): the
    train stage's rule (:func:`~nbtrail.practices.training.task_of`), a classification split
    into binary (two values) and multiclass (more)."""
    values = y.dropna()
    if task_of(values) == "regression":
        return REGRESSION
    return MULTICLASS if values.nunique() > 2 else BINARY


def predict(model: Any, frame: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    """The model's predictions (classes or values) for ``frame``."""
    return np.asarray(model.predict(frame[list(features)]))


def prediction_columns(
    model: Any, frame: pd.DataFrame, features: Sequence[str], task: str
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The prediction columns of ``frame`` for the drift tests (see the module docstring),
    and their kinds (``num`` or ``cat``)."""
    x = frame[list(features)]
    proba = (
        model.predict_proba(x) if task != REGRESSION and hasattr(model, "predict_proba") else None
    )
    if task == REGRESSION:
        return {PREDICTION: np.asarray(model.predict(x), dtype=float)}, {PREDICTION: "num"}
    if task == BINARY and proba is not None:
        return {PREDICTION: np.asarray(proba)[:, 1]}, {PREDICTION: "num"}
    values = {PREDICTION: np.asarray(model.predict(x)).astype(str)}
    kinds = {PREDICTION: "cat"}
    if proba is not None:
        values[CONFIDENCE] = np.asarray(proba).max(axis=1)
        kinds[CONFIDENCE] = "num"
    return values, kinds
