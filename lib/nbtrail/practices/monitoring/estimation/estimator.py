"""A batch's performance estimated without labels, and the verdict on it.

:func:`fit_estimator` prepares, on the labelled reference rows, what a model's task needs: a
:class:`~.calibration.Calibrator` for a classifier with ``predict_proba`` (CBPE, :mod:`~.cbpe`),
a :class:`~.dle.LossEstimator` for a regression (DLE, :mod:`~.dle`). Its
:meth:`PerformanceEstimator.estimate` gives each metric's expected value on a batch, the
estimate's standard error and where the realised value should fall.

:func:`estimate_checks` holds the task's metrics (accuracy, balanced accuracy, MAE, RMSE) to the
same bounds as the labelled verdict (:mod:`~nbtrail.practices.monitoring.performance`): ``baseline
- max_drop`` for an accuracy, ``baseline * (1 + max_drop)`` for an error. The test is one-sided,
``z = (estimate - bound) / sqrt(se^2 + se_b^2)`` (``se_b`` the baseline's own standard error,
scaled by ``1 + max_drop`` for an error), at ``alpha`` split over the metrics (Bonferroni), so a
batch whose expected performance is at the bound fails at most ``alpha`` of the time;
``check_batch`` gives this family ``alpha / 2`` and drift the other half, as it does with
labels. A batch **fails** when the test rejects and the estimate is trusted, **warns** when the
estimate is past the bound (or the test rejects an untrusted one), and passes otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from nbtrail.practices.monitoring.baselines import Baseline
from nbtrail.practices.monitoring.estimation import cbpe
from nbtrail.practices.monitoring.estimation.calibration import (
    ISOTONIC,
    Calibrator,
    fit_calibrator,
)
from nbtrail.practices.monitoring.estimation.dle import (
    LossEstimator,
    fit_loss_estimator,
    loss_features,
)
from nbtrail.practices.monitoring.task import ERROR_METRICS, REGRESSION, monitor_task
from nbtrail.practices.monitoring.verdict import FAIL, PASS, WARN, Check

LEVEL = 0.95  # the level of the interval where the realised value should fall
ESTIMATED = "estimated_performance"  # the checks' name


@dataclass
class Estimate:
    """A batch's estimated metrics: ``metrics[m]`` holds ``value``, ``se`` (over batches),
    ``low`` and ``high`` (where the realised value should fall, at ``LEVEL``)."""

    task: str
    rows: int
    trusted: bool
    method: str
    metrics: dict[str, dict[str, float]]
    calibration: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "rows": self.rows,
            "trusted": self.trusted,
            "method": self.method,
            "metrics": self.metrics,
            "calibration": self.calibration,
        }


def _sd(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0


def class_index(classes: Sequence[Any], values: Any) -> np.ndarray:
    """Each value's index in ``classes`` (-1 for a value that is not one of them)."""
    index = pd.Index(list(classes)).get_indexer(pd.Index(values))
    if (index < 0).any():  # labels read back as text (a CSV) for numeric classes, or the reverse
        text = pd.Index([str(c) for c in classes]).get_indexer(pd.Index([str(v) for v in values]))
        index = np.where(index < 0, text, index)
    return np.asarray(index, dtype=int)


@dataclass
class PerformanceEstimator:
    """What :func:`fit_estimator` fitted: the model, its features and task, and a calibrator
    (classifiers) or loss estimator (regression)."""

    model: Any = field(repr=False)
    features: list[str]
    task: str
    calibrator: Calibrator | None = None
    loss: LossEstimator | None = None
    seed: int = 0

    @property
    def trusted(self) -> bool:
        fitted = self.calibrator if self.calibrator is not None else self.loss
        return fitted is not None and fitted.trusted

    def describe(self) -> str:
        """One line: how the estimates are made and whether they are trusted."""
        fitted = self.calibrator if self.calibrator is not None else self.loss
        return fitted.describe() if fitted is not None else "no estimation"

    def scores(self, batch: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """A classifier's predicted class indices and raw class probabilities on ``batch``."""
        x = batch[self.features]
        classes = list(self.model.classes_)
        return class_index(classes, self.model.predict(x)), np.asarray(
            self.model.predict_proba(x), dtype=float
        )

    def estimate(
        self, batch: pd.DataFrame, *, seed: int | None = None, draws: int = cbpe.DRAWS
    ) -> Estimate:
        """The batch's expected metrics (see the module docstring of :mod:`~.cbpe`, :mod:`~.dle`);
        ``draws`` label draws and bootstrap resamples for the intervals."""
        rng = np.random.default_rng(self.seed if seed is None else seed)
        if self.loss is not None:
            x = loss_features(batch[self.features], self.model.predict(batch[self.features]))
            metrics = self.loss.estimate(x, LEVEL)
            return Estimate(
                REGRESSION, len(batch), self.loss.trusted, "dle", metrics, self.loss.to_dict()
            )
        pred, raw = self.scores(batch)
        return self.from_scores(pred, raw, rng=rng, draws=draws)

    def from_scores(
        self, pred: np.ndarray, raw: np.ndarray, *, rng: np.random.Generator, draws: int
    ) -> Estimate:
        """CBPE on scores already computed (:meth:`scores`). ``draws = 0`` gives the point
        estimates and accuracy's standard error only (no intervals: ``low = high = value``)."""
        assert self.calibrator is not None
        p = self.calibrator.calibrate(raw)
        ranks = cbpe.ranks_of(raw)
        values = cbpe.expected_metrics(p, pred, raw, ranks)
        se = cbpe.estimate_se(p, pred, rng, draws)
        out: dict[str, dict[str, float]] = {}
        if draws > 0:
            # fewer label draws for a large batch: the interval comes from their spread
            many = int(np.clip(cbpe.DRAW_CELLS // max(len(pred), 1), 50, draws))
            draws_of = cbpe.realised_draws(p, pred, raw, rng, many)
            # the calibration's own error: the estimates under calibrations refitted on resamples
            resampled = [
                cbpe.expected_metrics(q, pred, raw, ranks)
                for q in self.calibrator.calibrate_resampled(raw)
            ]
        z = float(stats.norm.ppf(0.5 + LEVEL / 2))
        for m, v in values.items():
            out[m] = {"value": v, "low": v, "high": v}
            if m in se:  # the verdict's metrics (ROC AUC is estimated, not tested)
                out[m]["se"] = se[m]
            if draws == 0:
                continue
            # where the realised value falls: the labels' own spread (the sd of the metric over
            # the label draws) and the calibration's error (over the refitted calibrations)
            half = z * float(np.hypot(_sd(draws_of[m]), _sd(np.array([r[m] for r in resampled]))))
            out[m]["low"] = max(0.0, v - half)
            out[m]["high"] = min(1.0, v + half)
        return Estimate(
            self.task, len(pred), self.calibrator.trusted, "cbpe", out, self.calibrator.to_dict()
        )


def fit_estimator(
    model: Any,
    reference: pd.DataFrame,
    features: Sequence[str],
    target: str,
    *,
    task: str | None = None,
    calibration: str = ISOTONIC,
    max_calibration_error: float = 0.05,
    seed: int = 0,
) -> PerformanceEstimator | None:
    """Fit label-free estimation on the labelled reference rows (None when it cannot be done:
    no model, no labels, or a classifier without ``predict_proba``)."""
    task = monitor_task(model, task)
    if model is None or task is None or target not in reference.columns:
        return None
    ref = reference[reference[target].notna()]
    if len(ref) < 20:
        return None
    feats = list(features)
    est = PerformanceEstimator(model, feats, task, seed=seed)
    if task == REGRESSION:
        pred = np.asarray(model.predict(ref[feats]), dtype=float)
        est.loss = fit_loss_estimator(ref[feats], pred, ref[target].to_numpy(), seed=seed)
        return est
    if not hasattr(model, "predict_proba"):
        return None
    y = class_index(list(model.classes_), ref[target].to_numpy())
    keep = y >= 0
    _, raw = est.scores(ref[keep])
    est.calibrator = fit_calibrator(
        raw, y[keep], method=calibration, max_error=max_calibration_error, seed=seed
    )
    return est


def estimate_checks(
    estimate: Estimate, baselines: Mapping[str, Baseline], max_drop: float, alpha: float
) -> list[Check]:
    """One check per metric in ``baselines`` that was estimated, each at ``alpha / len`` (see
    the module docstring)."""
    names = [m for m in baselines if m in estimate.metrics]
    each = alpha / max(len(names), 1)
    checks = []
    for m in names:
        b, e = baselines[m], estimate.metrics[m]
        error = m in ERROR_METRICS
        bound = b.value * (1 + max_drop) if error else b.value - max_drop
        bound_se = (1 + max_drop) * b.se if error else b.se
        scale = float(np.sqrt(e["se"] ** 2 + bound_se**2))
        diff = e["value"] - bound
        if scale > 0:
            p = float(stats.norm.sf(diff / scale) if error else stats.norm.cdf(diff / scale))
        else:
            p = 0.0 if (diff > 0 if error else diff < 0) else 1.0
        worse = diff > 0 if error else diff < 0
        status = FAIL if p < each and estimate.trusted else WARN if worse or p < each else PASS
        shown = (lambda v: f"{v:.4g}") if error else (lambda v: f"{v:.3f}")
        against = (
            f"baseline {shown(b.value)} x (1 + {max_drop:g}) = {shown(bound)}"
            if error
            else f"baseline {b.value:.3f} - {max_drop:g}"
        )
        trust = "" if estimate.trusted else "; UNTRUSTED: calibration too poor to fail a batch"
        detail = (
            f"estimated {m} {shown(e['value'])} [realised within {shown(e['low'])}, "
            f"{shown(e['high'])}] vs {against} (no labels, {estimate.method}, one-sided z "
            f"p={p:.2g}, n={estimate.rows}{trust})"
        )
        checks.append(Check(ESTIMATED, status, detail, e["value"], bound, m))
    return checks
