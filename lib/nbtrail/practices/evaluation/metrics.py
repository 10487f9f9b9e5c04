"""The metrics, as kernels over weighted rows: one table from a metric's name to its kernel.

Each kernel takes y (n,), s (n,) and a weight matrix w (B, n) -- how many times each row
appears in each of B resamples -- and returns the metric on each resample (B,). Every
metric is a weighted sum, so a block of resamples costs a few matrix-vector products and
no per-resample sorting; w = ones((1, n)) gives the plain metric. Scores of shape (n, K)
are class probabilities and take the multiclass kernels (``multiclass.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypedDict, Unpack

import numpy as np

from nbtrail.core.errors import ParameterError
from nbtrail.practices.evaluation.multiclass import MULTICLASS_KERNELS, MULTICLASS_METRICS
from nbtrail.practices.tasks import canonical_task

CLASSIFICATION_METRICS: tuple[str, ...] = (
    "roc_auc",
    "accuracy",
    "f1",
    "log_loss",
    "calibration_error",
)
# MAPE is defined only when no target value is 0 (see metrics_for).
REGRESSION_METRICS: tuple[str, ...] = ("mae", "rmse", "r2", "mape")
# The metrics each task computes, binary first (the binary ones keep their old name).
METRICS_BY_TASK: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "binary": CLASSIFICATION_METRICS,
        "multiclass": MULTICLASS_METRICS,
        "regression": REGRESSION_METRICS,
    }
)
# Metrics where a larger value is worse; every other metric is "higher is better".
# ``abs_error`` is the A/B's Wilcoxon row: the paired difference of absolute errors.
LOWER_IS_BETTER: frozenset[str] = frozenset(
    {"log_loss", "calibration_error", "mae", "rmse", "mape", "abs_error", "worst_slice_gap"}
)


def metrics_for(task: str, y: Any = None) -> tuple[tuple[str, ...], list[str]]:
    """The metrics ``task`` computes on target ``y``, and notes on those left out: MAPE
    when a target value is 0 (it divides by the target)."""
    metrics = METRICS_BY_TASK[canonical_task(task)]
    notes: list[str] = []
    if "mape" in metrics and y is not None and np.any(np.asarray(y, dtype=np.float64) == 0):
        metrics = tuple(m for m in metrics if m != "mape")
        notes.append("mape left out: the target has zero values, where it is undefined")
    return metrics, notes


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is better (see :data:`LOWER_IS_BETTER`)."""
    return metric not in LOWER_IS_BETTER


class MetricOptions(TypedDict, total=False):
    """How scores become a metric: see :class:`Scoring` for each option and its default."""

    threshold: float
    n_bins: int


@dataclass(frozen=True)
class Scoring:
    """``threshold``: a score at or above it predicts the positive class (accuracy, F1);
    ``n_bins``: the equal-width probability bins of the calibration error."""

    threshold: float = 0.5
    n_bins: int = 10


Kernel = Callable[[np.ndarray, np.ndarray, np.ndarray, Scoring], np.ndarray]


def _auc_w(y: np.ndarray, s: np.ndarray, w: np.ndarray, how: Scoring) -> np.ndarray:
    # Mann-Whitney: sum over tie groups (in score order) of positives x (negatives below +
    # half the tied negatives); equals sklearn's roc_auc_score, ties included.
    order = np.argsort(s, kind="stable")
    s_sorted = s[order]
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    ws = w[:, order]
    pos = (y[order] == 1).astype(np.float64)
    p = np.add.reduceat(ws * pos, starts, axis=1)
    q = np.add.reduceat(ws * (1 - pos), starts, axis=1)
    below = np.cumsum(q, axis=1) - q
    n1, n0 = p.sum(axis=1), q.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (p * (below + 0.5 * q)).sum(axis=1) / (n1 * n0)
    return np.where((n1 > 0) & (n0 > 0), auc, np.nan)


def _accuracy_w(y: np.ndarray, s: np.ndarray, w: np.ndarray, how: Scoring) -> np.ndarray:
    correct = ((s >= how.threshold) == (y == 1)).astype(np.float64)
    return (w @ correct) / w.sum(axis=1)


def _f1_w(y: np.ndarray, s: np.ndarray, w: np.ndarray, how: Scoring) -> np.ndarray:
    pred, truth = s >= how.threshold, y == 1
    tp = w @ (pred & truth).astype(np.float64)
    fp = w @ (pred & ~truth).astype(np.float64)
    fn = w @ (~pred & truth).astype(np.float64)
    denom = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / denom, 0.0)  # sklearn: 0 when undefined


def _log_loss_w(y: np.ndarray, s: np.ndarray, w: np.ndarray, how: Scoring) -> np.ndarray:
    eps = np.finfo(np.float64).eps
    p = np.clip(s.astype(np.float64), eps, 1 - eps)
    per_row = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    return (w @ per_row) / w.sum(axis=1)


def _ece_w(y: np.ndarray, s: np.ndarray, w: np.ndarray, how: Scoring) -> np.ndarray:
    edges = np.linspace(0.0, 1.0, how.n_bins + 1)
    bins = np.searchsorted(edges[1:-1], s)  # the binning of sklearn's calibration_curve
    resid = np.zeros((len(s), how.n_bins))
    resid[np.arange(len(s)), bins] = s - y
    return np.abs(w @ resid).sum(axis=1) / w.sum(axis=1)


def _mae_w(y: np.ndarray, s: np.ndarray, w: np.ndarray, how: Scoring) -> np.ndarray:
    return (w @ np.abs(s.astype(np.float64) - y)) / w.sum(axis=1)


def _rmse_w(y: np.ndarray, s: np.ndarray, w: np.ndarray, how: Scoring) -> np.ndarray:
    return np.sqrt((w @ (s.astype(np.float64) - y) ** 2) / w.sum(axis=1))


def _mape_w(y: np.ndarray, s: np.ndarray, w: np.ndarray, how: Scoring) -> np.ndarray:
    if np.any(y == 0):  # undefined (scikit-learn would divide by machine epsilon)
        return np.full(w.shape[0], np.nan)
    return (w @ (np.abs(s.astype(np.float64) - y) / np.abs(y))) / w.sum(axis=1)


def _r2_w(y: np.ndarray, s: np.ndarray, w: np.ndarray, how: Scoring) -> np.ndarray:
    total = w.sum(axis=1)
    err = s.astype(np.float64) - y
    yc = y - y.mean()  # centred, so the sums of squares do not cancel catastrophically
    ss_tot = w @ yc**2 - (w @ yc) ** 2 / total
    ss_res = w @ err**2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ss_tot > 0, 1 - ss_res / ss_tot, np.nan)


# Every metric's kernel, by name (read-only).
KERNELS: Mapping[str, Kernel] = MappingProxyType(
    {
        "roc_auc": _auc_w,
        "accuracy": _accuracy_w,
        "f1": _f1_w,
        "log_loss": _log_loss_w,
        "calibration_error": _ece_w,
        "mae": _mae_w,
        "rmse": _rmse_w,
        "r2": _r2_w,
        "mape": _mape_w,
    }
)


def metric_weighted(
    name: str, y: np.ndarray, s: np.ndarray, w: np.ndarray, **options: Unpack[MetricOptions]
) -> np.ndarray:
    """The metric ``name`` on each resample given by row weights ``w`` (shape ``(B, n)``);
    ``options`` as :class:`Scoring` (``threshold=0.5``, ``n_bins=10``). Scores of shape
    ``(n, K)`` are class probabilities, ``y`` the class index of each row."""
    s = np.asarray(s, dtype=np.float64)
    table = MULTICLASS_KERNELS if s.ndim == 2 else KERNELS
    kernel = table.get(name)
    if kernel is None:
        raise ParameterError(
            f"unknown {'multiclass ' if s.ndim == 2 else ''}metric {name!r}",
            parameter="metrics",
            valid=list(table),
        )
    y = np.asarray(y, dtype=np.float64)
    return np.asarray(kernel(y, s, w, Scoring(**options)))


def correct_rows(y: Any, s: Any, threshold: float = 0.5) -> np.ndarray:
    """Per row, whether the classifier is right: the score at or above ``threshold`` where
    ``y`` is 1 (binary: 0/1 target, positive-class probability), or the most probable class
    is ``y`` (multiclass: class index, ``(n, K)`` probabilities)."""
    y = np.asarray(y)
    s = np.asarray(s, dtype=np.float64)
    if s.ndim == 2:
        return np.asarray(s.argmax(axis=1) == y.astype(np.int64))
    return np.asarray((s >= threshold) == (y == 1))


def weights_of(idx: np.ndarray, n: int) -> np.ndarray:
    """Row weights ``(B, n)`` of resample index rows ``idx`` ``(B, m)``."""
    b = idx.shape[0]
    flat = (np.arange(b)[:, None] * n + idx).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


def metric_batch(
    name: str, y: np.ndarray, s: np.ndarray, idx: Any, **options: Unpack[MetricOptions]
) -> np.ndarray:
    """The metric ``name`` on each row of resample indices ``idx`` (shape ``(B, n)``)."""
    return metric_weighted(name, y, s, weights_of(np.asarray(idx), len(y)), **options)


def point_metrics(
    y: np.ndarray, s: np.ndarray, metrics: Sequence[str], **options: Unpack[MetricOptions]
) -> dict[str, float]:
    """Each metric on all rows (no resampling); ``options`` as :class:`Scoring`."""
    w = np.ones((1, len(y)))
    return {m: float(metric_weighted(m, y, s, w, **options)[0]) for m in metrics}


def expected_calibration_error(y_true: Any, proba: Any, n_bins: int = 10) -> float:
    """ECE: sum over equal-width bins of (bin share) * |observed rate - mean probability|."""
    y = np.asarray(y_true, dtype=np.float64)
    s = np.asarray(proba, dtype=np.float64)
    return float(_ece_w(y, s, np.ones((1, len(y))), Scoring(n_bins=n_bins))[0])
