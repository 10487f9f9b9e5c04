"""What a labelled batch's performance is held to: one :class:`Baseline` per metric of the
task, from the evaluate stage's holdout results (value and bootstrap interval) or, failing
that, measured on the reference rows.

A baseline estimated on a holdout of a few hundred rows is itself uncertain; its standard
error, read off the evaluation's percentile bootstrap interval as ``(high - low) / (2 z)``
(``z`` the normal quantile of the interval's level), enters the degradation tests so that a
batch is not called degraded because the holdout happened to be kind to the model
(:mod:`~nbtrail.practices.monitoring.performance`). A baseline given as a bare number, or
measured on the reference, is taken as known exactly (standard error 0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from nbtrail.practices.monitoring.task import TASK_METRICS


@dataclass(frozen=True)
class Baseline:
    """A metric's expected value and the standard error of that estimate (0: exact)."""

    value: float
    se: float = 0.0

    @classmethod
    def from_interval(cls, interval: Mapping[str, Any]) -> Baseline:
        """From an evaluation interval (``value``, ``low``, ``high``, ``level``)."""
        value = float(interval["value"])
        low, high = interval.get("low"), interval.get("high")
        if low is None or high is None or not np.isfinite([low, high]).all():
            return cls(value)
        z = float(stats.norm.ppf(0.5 + float(interval.get("level", 0.95)) / 2))
        return cls(value, max(0.0, (float(high) - float(low)) / (2 * z)))


def metric_value(metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """``accuracy``, ``balanced_accuracy`` (mean recall over the classes in ``y_true``),
    ``mae`` or ``rmse`` of predictions against labels."""
    if metric == "accuracy":
        return float(np.mean(y_true == y_pred))
    if metric == "balanced_accuracy":
        classes = np.unique(y_true)
        return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes]))
    err = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    if metric == "mae":
        return float(np.mean(np.abs(err)))
    if metric == "rmse":
        return float(np.sqrt(np.mean(err**2)))
    raise ValueError(f"no monitoring metric {metric!r}")


def evaluation_baselines(
    task: str, evaluation: Mapping[str, Any] | None, metrics: Mapping[str, Any] | None
) -> dict[str, Baseline]:
    """The task's baselines the evaluate stage measured: from its ``evaluation`` output's
    ``intervals`` (value and standard error) or else its record's ``metrics`` (value only).
    Metrics it did not measure are left out (:func:`resolve_baselines` measures them)."""
    intervals = (evaluation or {}).get("intervals") or {}
    out: dict[str, Baseline] = {}
    for m in TASK_METRICS[task]:
        iv = intervals.get(m)
        if isinstance(iv, Mapping) and iv.get("value") is not None:
            out[m] = Baseline.from_interval(iv)
        elif (metrics or {}).get(m) is not None:
            out[m] = Baseline(float((metrics or {})[m]))
    return out


def resolve_baselines(
    task: str,
    given: float | Baseline | Mapping[str, float | Baseline] | None,
    measure: Callable[[str], float | None],
) -> dict[str, Baseline]:
    """One baseline per metric of ``task``: as ``given`` (a number or :class:`Baseline`
    applies to the task's headline metric, a mapping names metrics), the others from
    ``measure(metric)`` (the model on the reference; None: that metric is not checked)."""
    names = TASK_METRICS[task]
    if given is None:
        chosen: dict[str, float | Baseline] = {}
    elif isinstance(given, Mapping):
        chosen = {k: v for k, v in given.items() if k in names and v is not None}
    else:
        chosen = {names[0]: given}
    out: dict[str, Baseline] = {}
    for m in names:
        v = chosen.get(m)
        if v is None:
            v = measure(m)
        if v is not None:
            out[m] = v if isinstance(v, Baseline) else Baseline(float(v))
    return out
