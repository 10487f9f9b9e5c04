"""The model's class probabilities calibrated on the reference split, and how well.

Confidence-based estimation (:mod:`~.cbpe`) needs probabilities that mean what they say: of the
rows given 0.8, eight in ten are right. A :class:`Calibrator` maps each class's raw probability
through a monotone map fitted on the labelled reference rows, **isotonic** regression (the
default) or a **sigmoid** (Platt scaling on the log-odds), one class against the rest, the rows
then renormalised to sum to 1 (a binary model has one map, on the positive class).

How well it calibrates is measured on rows it was not fitted on: ``folds``-fold cross-fitting on
the reference gives every row a probability from a map that never saw it, and the **expected
calibration error** (ECE) of their top-class confidence over equal-count bins is recorded. A
perfectly calibrated model still shows an ECE above 0 on a finite sample; that floor (the mean
ECE of labels drawn from the probabilities themselves, by simulation) is subtracted, and the
estimate is **untrusted** when what is left, ``excess``, is above ``max_error`` (the monitor
stage's ``max_calibration_error``, 0.05 by default): its estimated metrics are then shown and
recorded but never fail a batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

ISOTONIC, SIGMOID = "isotonic", "sigmoid"
METHODS = (ISOTONIC, SIGMOID)
FOLDS = 5
FLOOR_DRAWS = 200  # simulated perfectly calibrated label sets for the ECE's noise floor
BOOT = 40  # calibrations refitted on bootstrap resamples of the reference (their own error)


def _bins(n: int) -> int:
    """Equal-count bins for the ECE: 10, fewer so that each holds at least 30 rows."""
    return int(np.clip(n // 30, 1, 10))


def ece(confidence: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Expected calibration error over equal-count bins of ``confidence``; ``correct`` may be a
    (draws, n) array of 0/1 rows (one ECE per row)."""
    order = np.argsort(confidence, kind="stable")
    conf = confidence[order]
    hits = np.atleast_2d(correct)[:, order].astype(float)
    edges = np.linspace(0, len(conf), _bins(len(conf)) + 1).astype(int)
    total = np.zeros(hits.shape[0])
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        if hi > lo:
            gap = np.abs(hits[:, lo:hi].mean(axis=1) - conf[lo:hi].mean())
            total += gap * (hi - lo) / len(conf)
    return total


def _fit_one(method: str, p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A monotone map as two arrays: isotonic's thresholds and values (applied by linear
    interpolation, clipped at the ends, as scikit-learn's ``predict`` does), or the sigmoid's
    slope and intercept on the log-odds."""
    if method == ISOTONIC:
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y)
        return np.asarray(iso.X_thresholds_, dtype=float), np.asarray(
            iso.y_thresholds_, dtype=float
        )
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e6).fit(_logit(p)[:, None], y)
    return np.asarray(lr.coef_[0], dtype=float), np.asarray(lr.intercept_, dtype=float)


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def _apply_one(method: str, fitted: tuple[np.ndarray, np.ndarray], p: np.ndarray) -> np.ndarray:
    a, b = fitted
    if method == ISOTONIC:
        return np.interp(p, a, b)
    return 1.0 / (1.0 + np.exp(-(a[0] * _logit(p) + b[0])))


def _fit_maps(method: str, proba: np.ndarray, y: np.ndarray) -> list[Any]:
    """One map per class column (a binary model: the positive class only)."""
    cols = [1] if proba.shape[1] == 2 else range(proba.shape[1])
    maps = []
    for k in cols:
        yk = (y == k).astype(float)
        maps.append(None if yk.min() == yk.max() else _fit_one(method, proba[:, k], yk))
    return maps


def _apply_maps(method: str, maps: list[Any], proba: np.ndarray) -> np.ndarray:
    if proba.shape[1] == 2:
        p1 = proba[:, 1] if maps[0] is None else _apply_one(method, maps[0], proba[:, 1])
        return np.column_stack([1 - p1, p1])
    out = np.column_stack(
        [
            proba[:, k] if m is None else _apply_one(method, m, proba[:, k])
            for k, m in enumerate(maps)
        ]
    )
    sums = out.sum(axis=1, keepdims=True)
    flat = sums[:, 0] <= 0
    out[flat] = 1.0 / proba.shape[1]
    sums[flat] = 1.0
    return out / sums


@dataclass
class Calibrator:
    """Monotone maps of a classifier's class probabilities, fitted on the reference, with the
    cross-fitted calibration error: ``ece`` (of the calibrated probabilities), ``ece_raw`` (of the
    model's own), ``floor`` (what a perfect calibration shows on this many rows) and ``excess``
    (``ece - floor``, at least 0)."""

    method: str
    n_classes: int
    max_error: float
    ece: float = 0.0
    ece_raw: float = 0.0
    floor: float = 0.0
    rows: int = 0
    maps: list[Any] = field(default_factory=list, repr=False)
    boot_maps: list[list[Any]] = field(default_factory=list, repr=False)

    @property
    def excess(self) -> float:
        return max(0.0, self.ece - self.floor)

    @property
    def trusted(self) -> bool:
        """Whether the calibration is good enough for its estimates to fail a batch."""
        return self.excess <= self.max_error

    def calibrate(self, proba: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities (rows summing to 1) for the model's ``proba``."""
        return _apply_maps(self.method, self.maps, np.asarray(proba, dtype=float))

    def calibrate_resampled(self, proba: np.ndarray) -> list[np.ndarray]:
        """The probabilities as each calibration refitted on a bootstrap resample of the
        reference gives them: how much the reference's finite size moves an estimate."""
        raw = np.asarray(proba, dtype=float)
        return [_apply_maps(self.method, maps, raw) for maps in self.boot_maps]

    def describe(self) -> str:
        """One line: method, calibration errors and whether its estimates are trusted."""
        state = "trusted" if self.trusted else "UNTRUSTED"
        return (
            f"{self.method} calibration on {self.rows} reference rows: ECE {self.ece:.3f} "
            f"(raw {self.ece_raw:.3f}, chance floor {self.floor:.3f}; excess {self.excess:.3f} "
            f"vs max {self.max_error:g}): estimates {state}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "ece": self.ece,
            "ece_raw": self.ece_raw,
            "floor": self.floor,
            "excess": self.excess,
            "max_error": self.max_error,
            "trusted": self.trusted,
            "rows": self.rows,
        }


def fit_calibrator(
    proba: np.ndarray,
    y: np.ndarray,
    *,
    method: str = ISOTONIC,
    max_error: float = 0.05,
    folds: int = FOLDS,
    boot: int = BOOT,
    seed: int = 0,
) -> Calibrator:
    """Calibrate the model's reference probabilities ``proba`` (n, classes) against the class
    indices ``y``; the calibration error measured by ``folds``-fold cross-fitting, and ``boot``
    more calibrations fitted on bootstrap resamples (:meth:`Calibrator.calibrate_resampled`)."""
    if method not in METHODS:
        raise ValueError(f"calibration must be one of {', '.join(METHODS)}, got {method!r}")
    proba, y = np.asarray(proba, dtype=float), np.asarray(y, dtype=int)
    n = len(y)
    rng = np.random.default_rng(seed)
    fold = rng.permutation(n) % max(2, folds)
    held = np.empty_like(proba)
    for f in np.unique(fold):
        out = fold == f
        held[out] = _apply_maps(method, _fit_maps(method, proba[~out], y[~out]), proba[out])
    conf = held.max(axis=1)
    correct = held.argmax(axis=1) == y
    draws = rng.random((FLOOR_DRAWS, n)) < conf
    raw_correct = proba.argmax(axis=1) == y
    return Calibrator(
        method=method,
        n_classes=proba.shape[1],
        max_error=max_error,
        ece=float(ece(conf, correct)[0]),
        ece_raw=float(ece(proba.max(axis=1), raw_correct)[0]),
        floor=float(ece(conf, draws).mean()),
        rows=n,
        maps=_fit_maps(method, proba, y),
        boot_maps=[
            _fit_maps(method, proba[idx], y[idx]) for idx in rng.integers(0, n, size=(boot, n))
        ],
    )
