"""Drift and degradation across production batches, with verdicts a scheduler can act on.

Each batch is compared with the reference (the ``reference`` split of the data stage):

1. **Data quality**: missing columns, changed dtypes and all-null columns fail the batch and
   are named; extra columns are named as a warning (a failure with ``fail_on_extra_columns``).
   An empty batch raises :class:`~nbtrail.errors.DataError`.
2. **Data and prediction drift**: one test per column, two-sample Kolmogorov-Smirnov for
   numeric and datetime columns (the same ``scipy.stats.ks_2samp`` p-value Evidently's ``ks``
   method gives) and a chi-square test of homogeneity for categorical and boolean ones. The
   model's predictions are more columns of the same family: a binary classifier's
   probability, a multiclass one's predicted class (chi-square) and largest probability, a
   regression's predicted value. The p-values are corrected for
   multiple comparisons with **Benjamini-Hochberg** at level ``alpha``: a column is drifted
   when its BH-adjusted p-value is below ``alpha`` *and* its effect (KS statistic D, or total
   variation distance of category shares) is at least ``min_effect``. Under the null (every
   column drawn from the reference distribution, independent tests) the chance that BH
   rejects anything is at most ``alpha`` (Simes), so a batch drawn from the reference
   distribution raises a drift alarm at most ``alpha`` of the time; the effect floor only
   lowers that. ``tests/test_monitoring.py`` measures it by simulation.
3. **Performance** (when the batch has labels), per task (:mod:`~.task`): accuracy for a
   binary classifier, accuracy and balanced accuracy for a multiclass one, MAE and RMSE for a
   regression, each against the evaluation stage's baseline with a one-sided test of "no
   worse than the baseline by ``max_drop``" (an absolute drop for accuracies, a relative
   increase for errors; the baseline's own uncertainty counted when its interval is known:
   :mod:`~.performance`, :mod:`~.baselines`). When labels are present the two alarm families
   (drift, performance) each get ``alpha / 2`` and the performance metrics share theirs
   (Bonferroni), so the batch verdict keeps its false-alarm rate ``alpha``. Degraded
   performance while no input column and no prediction drifted is named **concept drift**.
4. **Estimated performance** (batches without labels, when the stage fits an estimator on the
   reference: :mod:`~.estimation`): CBPE for classifiers (calibrated probabilities), DLE for
   regressions, held to the same baselines and bounds, with the same ``alpha / 2`` split; an
   estimate whose calibration is too poor is shown but never fails a batch. Labels that arrive
   later are joined by id (``nbtrail monitor labels``) and the realised performance is recorded
   beside the estimate.

Large batches: the verdict's tests run on all rows (KS and chi-square are O(n log n)); only the
Evidently report, which is a picture, is drawn from a uniform sample of ``report_rows`` rows.
Its error bound (Dvoretzky-Kiefer-Wolfowitz): with probability ``1 - delta`` each empirical CDF
or category share of the sample is within ``sqrt(ln(2/delta) / (2 n))`` of the full data's, so
a KS statistic in the report is within twice that of the full-data one (see
:func:`sampling_error_bound`).

History: one row per (run, batch), kept in an append-only log with the index as its cache
(:mod:`~nbtrail.practices.monitoring.history`).

Modules, one concept each: ``config`` (thresholds), ``verdict`` (checks, verdicts, what a
scheduler does with them), ``task`` (task names, metrics, prediction columns), ``drift``
(per-column tests, BH), ``quality``, ``baselines``, ``performance``,
``check`` (one batch's verdict), ``batch_sources`` (files, folders, datasets), ``sampling``,
``report`` (Evidently), ``history`` and ``history_plot``; ``estimation/`` (performance
without labels, late labels: its own map in its ``__init__``). The demo batches the monitor stage
fabricates are stage glue: :mod:`nbtrail.stages.monitor`.
"""

from __future__ import annotations

from nbtrail.practices.monitoring.baselines import (
    Baseline,
    evaluation_baselines,
    metric_value,
    resolve_baselines,
)
from nbtrail.practices.monitoring.batch_sources import (
    BATCH_SUFFIXES,
    batch_sources,
    read_batch_file,
)
from nbtrail.practices.monitoring.check import MIN_LABELS, check_batch, check_batches
from nbtrail.practices.monitoring.config import MonitorConfig
from nbtrail.practices.monitoring.drift import (
    as_numbers,
    bh_threshold,
    column_kinds,
    column_tests,
    drift_table,
)
from nbtrail.practices.monitoring.estimation import (
    ESTIMATED,
    Estimate,
    PerformanceEstimator,
    estimate_checks,
    fit_estimator,
)
from nbtrail.practices.monitoring.estimation.late_labels import LabelsResult, record_labels
from nbtrail.practices.monitoring.estimation.ledger import (
    estimate_history,
    format_estimates,
    rebuild_estimates,
)
from nbtrail.practices.monitoring.estimation.plot import plot_estimates
from nbtrail.practices.monitoring.history import (
    format_history,
    load_history,
    rebuild,
    record_history,
)
from nbtrail.practices.monitoring.history_plot import plot_history
from nbtrail.practices.monitoring.performance import (
    metric_check,
    performance_check,
    performance_checks,
)
from nbtrail.practices.monitoring.quality import align_times, feature_columns, quality_check
from nbtrail.practices.monitoring.report import drift_report
from nbtrail.practices.monitoring.sampling import sample_rows, sampling_error_bound
from nbtrail.practices.monitoring.task import (
    BINARY,
    CLASSIFICATION,
    ERROR_METRICS,
    MULTICLASS,
    REGRESSION,
    TASK_METRICS,
    TASKS,
    monitor_task,
    prediction_columns,
    target_task,
)
from nbtrail.practices.monitoring.verdict import (
    CONFIDENCE,
    FAIL,
    PASS,
    PREDICTION,
    PREDICTION_COLUMNS,
    WARN,
    Check,
    Verdict,
    check_expected,
    raise_for_verdicts,
    verdict_frame,
)

__all__ = [
    "BATCH_SUFFIXES",
    "BINARY",
    "CLASSIFICATION",
    "Baseline",
    "CONFIDENCE",
    "Check",
    "ESTIMATED",
    "Estimate",
    "LabelsResult",
    "PerformanceEstimator",
    "ERROR_METRICS",
    "FAIL",
    "MIN_LABELS",
    "MULTICLASS",
    "MonitorConfig",
    "PASS",
    "PREDICTION",
    "PREDICTION_COLUMNS",
    "REGRESSION",
    "TASKS",
    "TASK_METRICS",
    "Verdict",
    "WARN",
    "align_times",
    "as_numbers",
    "batch_sources",
    "bh_threshold",
    "check_batch",
    "check_batches",
    "check_expected",
    "column_kinds",
    "column_tests",
    "drift_report",
    "drift_table",
    "estimate_checks",
    "estimate_history",
    "fit_estimator",
    "format_estimates",
    "evaluation_baselines",
    "feature_columns",
    "format_history",
    "load_history",
    "metric_check",
    "metric_value",
    "monitor_task",
    "performance_check",
    "performance_checks",
    "plot_estimates",
    "plot_history",
    "prediction_columns",
    "quality_check",
    "raise_for_verdicts",
    "read_batch_file",
    "rebuild",
    "rebuild_estimates",
    "record_history",
    "record_labels",
    "resolve_baselines",
    "sample_rows",
    "sampling_error_bound",
    "target_task",
    "verdict_frame",
]
