"""Multiclass metrics, as kernels over weighted rows like the binary and regression ones.

The target is the class index of each row (0..K-1, in the order of the model's
``classes_``), the scores a ``(n, K)`` matrix of class probabilities, and the predicted
class the most probable one. Each kernel returns the metric on each of B resamples given
by row weights ``(B, n)``; with ``w = ones((1, n))`` it equals scikit-learn's function
(``accuracy_score``, ``balanced_accuracy_score``, ``f1_score(average="macro"|"weighted")``,
``log_loss(labels=...)``): a class absent from both the target and the predictions of a
resample is left out of its macro averages, as scikit-learn leaves out labels it does not
see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

MULTICLASS_METRICS: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "f1_macro",
    "f1_weighted",
    "log_loss",
)


def _onehot(index: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((len(index), k))
    out[np.arange(len(index)), index] = 1.0
    return out


def _counts(y: np.ndarray, s: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per resample and class: true positives, rows of the class, rows predicted as it."""
    k = s.shape[1]
    truth = _onehot(y.astype(np.int64), k)
    pred = _onehot(s.argmax(axis=1), k)
    return w @ (truth * pred), w @ truth, w @ pred


def _accuracy(y: np.ndarray, s: np.ndarray, w: np.ndarray, how: Any) -> np.ndarray:
    correct = (s.argmax(axis=1) == y.astype(np.int64)).astype(np.float64)
    return (w @ correct) / w.sum(axis=1)


def _balanced_accuracy(y: np.ndarray, s: np.ndarray, w: np.ndarray, how: Any) -> np.ndarray:
    tp, true, _ = _counts(y, s, w)
    seen = true > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(seen, tp / true, 0.0)
    return recall.sum(axis=1) / seen.sum(axis=1)


def _f1_per_class(y: np.ndarray, s: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, ...]:
    tp, true, pred = _counts(y, s, w)
    denom = true + pred  # 2 tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denom > 0, 2 * tp / denom, 0.0)
    return f1, true, denom > 0


def _f1_macro(y: np.ndarray, s: np.ndarray, w: np.ndarray, how: Any) -> np.ndarray:
    f1, _, seen = _f1_per_class(y, s, w)
    return (f1 * seen).sum(axis=1) / seen.sum(axis=1)


def _f1_weighted(y: np.ndarray, s: np.ndarray, w: np.ndarray, how: Any) -> np.ndarray:
    f1, true, _ = _f1_per_class(y, s, w)
    return (f1 * true).sum(axis=1) / true.sum(axis=1)


def _log_loss(y: np.ndarray, s: np.ndarray, w: np.ndarray, how: Any) -> np.ndarray:
    eps = np.finfo(np.float64).eps
    p = np.clip(s[np.arange(len(y)), y.astype(np.int64)], eps, 1 - eps)
    return (w @ -np.log(p)) / w.sum(axis=1)


# Every multiclass metric's kernel, by name (read-only).
MULTICLASS_KERNELS: Mapping[str, Any] = MappingProxyType(
    {
        "accuracy": _accuracy,
        "balanced_accuracy": _balanced_accuracy,
        "f1_macro": _f1_macro,
        "f1_weighted": _f1_weighted,
        "log_loss": _log_loss,
    }
)


def per_class_table(y: np.ndarray, proba: np.ndarray, classes: Sequence[Any]) -> pd.DataFrame:
    """Point estimates per class: support, precision, recall and F1 of the predicted class
    (scikit-learn's ``precision_recall_fscore_support``, 0 where undefined)."""
    tp, true, pred = (c[0] for c in _counts(y, proba, np.ones((1, len(y)))))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(pred > 0, tp / pred, 0.0)
        recall = np.where(true > 0, tp / true, 0.0)
        f1 = np.where(true + pred > 0, 2 * tp / (true + pred), 0.0)
    return pd.DataFrame(
        {
            "class": [str(c) for c in classes],
            "support": true.astype(int),
            "predicted": pred.astype(int),
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }
    )
