"""Confidence-based performance estimation (CBPE): a classifier's metrics on a batch without
labels, from its calibrated class probabilities.

If the calibrated probabilities ``p`` hold (row ``i`` is of class ``t`` with probability
``p[i, t]``, which covariate shift leaves true: it moves the rows, not what a row's label is
given its features), the **expected confusion matrix** of the batch is
``C[t, k] = sum_i p[i, t] [pred_i = k]``, and from it the expected accuracy (its trace over
``n``), balanced accuracy (mean recall) and F1 (the positive class's for a binary model, the
macro mean over classes for a multiclass one, one class against the rest). The expected ROC AUC
ranks the rows by the model's raw score and takes the ratio of the expected Mann-Whitney count
to the expected number of (positive, negative) pairs, with the number of positives a sum of
independent Bernoullis (its mean and variance known exactly); a multiclass model's is the macro
mean of each class against the rest. NannyML's CBPE computes the same expectations; this is our
own code over numpy arrays.

Two intervals go with each estimate:

- **where the realised value will fall** (``low``, ``high``): labels drawn from the calibrated
  probabilities ``draws`` times, the metric computed on each draw exactly as it will be on the
  real labels (:func:`confusion_metrics`, :func:`roc_auc`); their standard deviation, added in
  quadrature to the calibration's own error (the standard deviation of the estimate under
  calibrations refitted on bootstrap resamples of the reference,
  :meth:`~.calibration.Calibrator.calibrate_resampled`), gives ``value +- z sd`` (the estimator
  does this);
- **the estimate's standard error** (``se``) over batches of this size, what the verdict tests
  with: for accuracy ``sd(c) / sqrt(n)`` with ``c_i = p[i, pred_i]``; for the others a Poisson
  bootstrap of the rows (each row weighted by a Poisson(1) count, the expected confusion matrix
  recomputed).

:func:`realised_metrics` computes the same metrics from real labels (late labels), through the
same functions.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy import stats

CLASSIFIER_METRICS = ("accuracy", "balanced_accuracy", "f1", "roc_auc")
DRAWS = 200  # label draws per batch (fewer for a large one: DRAW_CELLS / rows, at least 50)
DRAW_CELLS = 200_000
SE_DRAWS = 50  # Poisson bootstrap resamples for a standard error (its own error about 10%)
MAX_CELLS = 2_000_000  # draws x rows held in memory at once


def _chunks(draws: int, n: int) -> Iterator[int]:
    step = max(1, min(draws, MAX_CELLS // max(n, 1)))
    left = draws
    while left > 0:
        yield min(step, left)
        left -= step


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), 0.0)


def confusion_metrics(c: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, balanced accuracy and F1 of confusion matrices ``c`` (draws, true, predicted),
    one value per matrix. Balanced accuracy averages the recall of the classes present; F1 is
    the positive class's (index 1) for two classes, else the macro mean; 0/0 counts as 0."""
    c = np.asarray(c, dtype=float)
    if c.ndim == 2:
        c = c[None]
    k = c.shape[1]
    diag = np.einsum("bkk->bk", c)
    support, predicted = c.sum(axis=2), c.sum(axis=1)
    total = support.sum(axis=1)
    recall = _div(diag, support)
    present = support > 0
    precision = _div(diag, predicted)
    f1 = _div(2 * precision * recall, precision + recall)
    return {
        "accuracy": _div(diag.sum(axis=1), total),
        "balanced_accuracy": _div((recall * present).sum(axis=1), present.sum(axis=1)),
        "f1": f1[:, 1] if k == 2 else f1.mean(axis=1),
    }


def _onehot(pred: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[pred]


def expected_confusion(
    p: np.ndarray, pred: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """``C[b, t, k] = sum_i w[b, i] p[i, t] [pred_i = k]`` (one matrix when ``weights`` is None)."""
    hot = _onehot(pred, p.shape[1])
    if weights is None:
        return (p.T @ hot)[None]
    return np.stack([(weights * p[:, t]) @ hot for t in range(p.shape[1])], axis=1)


def _draw_confusion(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """Hard confusion matrices of label rows ``y`` (draws, n) against ``pred``: one matrix
    product per true class."""
    hot = _onehot(pred, k)
    return np.stack([(y == t).astype(float) @ hot for t in range(k)], axis=1)


def ranks_of(score: np.ndarray) -> np.ndarray:
    """Average ranks of each class's scores (ties share their mean rank)."""
    return stats.rankdata(score, axis=0)


def roc_auc(positive: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """ROC AUC of 0/1 label rows ``positive`` (draws, n) against scores of ``ranks`` (average
    ranks, ties counted half): Mann-Whitney ``U / (n1 n0)``; NaN when a row has one class."""
    pos = np.atleast_2d(positive).astype(float)
    n1 = pos.sum(axis=1)
    n0 = pos.shape[1] - n1
    u = pos @ ranks - n1 * (n1 + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n1 > 0) & (n0 > 0), u / (n1 * n0), np.nan)


def expected_roc_auc(q: np.ndarray, ranks: np.ndarray) -> float:
    """The expected Mann-Whitney count over the expected number of pairs, positives drawn
    independently with probabilities ``q`` (NaN when fewer than one expected pair)."""
    n = len(q)
    m1, var1 = float(q.sum()), float((q * (1 - q)).sum())
    second = var1 + m1**2  # E[n1^2]
    pairs = n * m1 - second  # E[n1 (n - n1)]
    if pairs < 1:
        return float("nan")
    return float((q @ ranks - (second + m1) / 2) / pairs)


def _auc_columns(k: int) -> list[int]:
    return [1] if k == 2 else list(range(k))


def expected_metrics(
    p: np.ndarray, pred: np.ndarray, score: np.ndarray, ranks: np.ndarray | None = None
) -> dict[str, float]:
    """The expected accuracy, balanced accuracy, F1 and ROC AUC of a batch: calibrated
    probabilities ``p`` (n, classes), predicted class indices ``pred``, raw scores ``score``
    (n, classes) that order the rows for the AUC (``ranks``: theirs, if already computed)."""
    out = {m: float(v[0]) for m, v in confusion_metrics(expected_confusion(p, pred)).items()}
    ranks = ranks_of(score) if ranks is None else ranks
    aucs = [expected_roc_auc(p[:, t], ranks[:, t]) for t in _auc_columns(p.shape[1])]
    out["roc_auc"] = float(np.nanmean(aucs)) if not np.isnan(aucs).all() else float("nan")
    return out


def realised_metrics(y: np.ndarray, pred: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """The same metrics from real labels (class indices ``y``), by the same formulas."""
    k = score.shape[1]
    c = _draw_confusion(np.asarray(y)[None], pred, k)
    out = {m: float(v[0]) for m, v in confusion_metrics(c).items()}
    ranks = ranks_of(score)
    aucs = np.array([roc_auc(np.asarray(y)[None] == t, ranks[:, t])[0] for t in _auc_columns(k)])
    out["roc_auc"] = float(np.nanmean(aucs)) if not np.isnan(aucs).all() else float("nan")
    return out


def _sample_labels(p: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` label rows drawn from the rows' class probabilities (draws, n)."""
    if p.shape[1] == 2:
        return (rng.random((size, p.shape[0])) < p[:, 1]).astype(np.int64)
    cum = np.cumsum(p, axis=1)
    u = rng.random((size, p.shape[0], 1))
    return np.minimum((u > cum[None, :, :]).sum(axis=2), p.shape[1] - 1)


def realised_draws(
    p: np.ndarray, pred: np.ndarray, score: np.ndarray, rng: np.random.Generator, draws: int = DRAWS
) -> dict[str, np.ndarray]:
    """Each metric on ``draws`` label sets drawn from the calibrated probabilities: the spread
    of the realised value around the estimate if the calibration holds."""
    k, n = p.shape[1], p.shape[0]
    ranks = ranks_of(score)
    parts: dict[str, list[np.ndarray]] = {m: [] for m in CLASSIFIER_METRICS}
    for size in _chunks(draws, n * (k if k > 2 else 1)):
        y = _sample_labels(p, size, rng)
        for m, v in confusion_metrics(_draw_confusion(y, pred, k)).items():
            parts[m].append(v)
        aucs = np.stack([roc_auc(y == t, ranks[:, t]) for t in _auc_columns(k)])
        with np.errstate(invalid="ignore"):
            parts["roc_auc"].append(np.nanmean(aucs, axis=0) if k > 2 else aucs[0])
    return {m: np.concatenate(v) for m, v in parts.items()}


def estimate_se(
    p: np.ndarray, pred: np.ndarray, rng: np.random.Generator, draws: int = DRAWS
) -> dict[str, float]:
    """Standard errors of the expected accuracy, balanced accuracy and F1 over batches of this
    size: accuracy's ``sd(c) / sqrt(n)``, the others' by a Poisson bootstrap of the rows
    (``SE_DRAWS`` resamples at most; none, and no standard error for them, when ``draws`` is
    0)."""
    n = p.shape[0]
    c = p[np.arange(n), pred]
    out = {"accuracy": float(np.std(c, ddof=1) / np.sqrt(n)) if n > 1 else 0.0}
    parts: dict[str, list[np.ndarray]] = {"balanced_accuracy": [], "f1": []}
    for size in _chunks(min(draws, SE_DRAWS), n * p.shape[1]):
        w = rng.poisson(1.0, size=(size, n)).astype(float)
        values = confusion_metrics(expected_confusion(p, pred, w))
        for m in parts:
            parts[m].append(values[m])
    for m, v in parts.items():
        if v:
            out[m] = float(np.std(np.concatenate(v), ddof=1))
    return out
