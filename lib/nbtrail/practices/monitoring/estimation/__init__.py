"""Performance without labels, and the labels that arrive later.

- ``calibration``: the classifier's probabilities calibrated on the reference (isotonic or
  sigmoid), the cross-fitted calibration error (ECE) and whether the estimates are trusted;
- ``cbpe``: confidence-based estimation of accuracy, balanced accuracy, F1 and ROC AUC from the
  calibrated probabilities, with intervals; the same metrics from real labels;
- ``dle``: direct loss estimation of a regression's MAE and RMSE;
- ``estimator``: what a task needs fitted on the reference, a batch's :class:`Estimate`, and
  its checks against the evaluation baseline;
- ``late_labels``: a monitored batch's scored rows kept, labels joined to them by id later, the
  realised performance recorded beside the estimate;
- ``ledger``: estimate and realised per batch, the index's cache of the monitoring log;
- ``plot``: estimate vs realised drawn.
"""

from __future__ import annotations

from nbtrail.practices.monitoring.estimation.calibration import Calibrator, ece, fit_calibrator
from nbtrail.practices.monitoring.estimation.cbpe import expected_metrics, realised_metrics
from nbtrail.practices.monitoring.estimation.dle import LossEstimator, fit_loss_estimator
from nbtrail.practices.monitoring.estimation.estimator import (
    ESTIMATED,
    Estimate,
    PerformanceEstimator,
    estimate_checks,
    fit_estimator,
)

__all__ = [
    "ESTIMATED",
    "Calibrator",
    "Estimate",
    "LossEstimator",
    "PerformanceEstimator",
    "ece",
    "estimate_checks",
    "expected_metrics",
    "fit_calibrator",
    "fit_estimator",
    "fit_loss_estimator",
    "realised_metrics",
]
