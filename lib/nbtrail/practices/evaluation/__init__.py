"""Offline model testing on the holdout: metrics with bootstrap intervals, slices,
behavioural tests and gates.

Everything here works on plain arrays and pandas frames; the evaluate notebook maps its
parameters onto these calls and records the results (each result has ``to_dict()`` giving
JSON-able values for ``run.save_json`` / ``run.log_metrics`` / ``run.verdict``).

- **Metrics** (``metrics.py``, :func:`evaluate_holdout` in ``intervals.py``), per task
  (:data:`METRICS_BY_TASK`; the task is :func:`infer_task`, the rule in
  :mod:`nbtrail.practices.tasks`): binary (score = probability of the positive class):
  ``roc_auc``, ``accuracy``, ``f1``, ``log_loss``, ``calibration_error`` (expected
  calibration error over equal-width probability bins, the sklearn
  ``calibration_curve(strategy="uniform")`` binning); multiclass (``multiclass.py``,
  scores = one probability per class): ``accuracy``, ``balanced_accuracy``, ``f1_macro``,
  ``f1_weighted``, ``log_loss``, and :func:`per_class_table` (precision and recall per
  class, point estimates); regression (numeric target): ``mae``, ``rmse``, ``r2``,
  ``mape`` (left out, with a note, when a target value is 0). Intervals are percentile
  bootstrap intervals over resampled holdout rows (``bootstrap.py``, shared with the paired
  A/B comparison); the metric kernels are weighted sums over rows, vectorised over blocks of
  resamples (AUC through tie groups in score order, which equals sklearn's ``roc_auc_score``
  with ties).
- **Task and inputs** (``targets.py``): the task a target is, the target and scores checked.
- **Slices** (``slices.py``, :func:`slice_metrics`): a categorical column, explicit bin
  edges (``{"mean_radius": [0, 12, 15, 100]}``) or a quantile count (``{"mean_radius": 4}``).
- **Behavioural tests** (``behavioural.py``: :func:`invariance_test`,
  :func:`directional_test`, :func:`min_slice_performance_test`, :func:`behavioural_suite`),
  each named, pass/fail; ``plan.py`` (:func:`validate_plan`) checks their parameters and the
  slices' before anything runs.
- **Gates** (``gates.py``: :func:`check_gates`, :func:`raise_for_gates`): ``min_<metric>`` /
  ``max_<metric>``.
- **Evidently** (``report.py``: :func:`evidently_report`): the Evidently 0.7 classification
  or regression preset as a ``Snapshot``.
- ``jsonable.py`` (:func:`plain`): results as JSON-able values.

Bad input raises :class:`~nbtrail.errors.ParameterError` (a parameter names a column that does
not exist, a malformed slice or gate) or :class:`~nbtrail.errors.DataError` (a holdout too small
for the requested intervals, a constant target or one with missing values).
"""

from nbtrail.practices.evaluation.behavioural import (
    TestResult,
    behavioural_suite,
    directional_class,
    directional_test,
    invariance_test,
    min_slice_performance_test,
    score_function,
    tests_table,
)
from nbtrail.practices.evaluation.bootstrap import (
    BootstrapOptions,
    Resampled,
    Resampling,
    bootstrap_draws,
    check_interval_request,
    percentile_interval,
    resample_scores,
    resample_weights,
)
from nbtrail.practices.evaluation.gates import (
    GateResult,
    check_gates,
    gates_for_task,
    gates_table,
    raise_for_gates,
)
from nbtrail.practices.evaluation.intervals import Interval, evaluate_holdout, intervals_table
from nbtrail.practices.evaluation.jsonable import plain
from nbtrail.practices.evaluation.metrics import (
    CLASSIFICATION_METRICS,
    KERNELS,
    LOWER_IS_BETTER,
    METRICS_BY_TASK,
    REGRESSION_METRICS,
    MetricOptions,
    Scoring,
    correct_rows,
    expected_calibration_error,
    higher_is_better,
    metric_batch,
    metric_weighted,
    metrics_for,
    point_metrics,
    weights_of,
)
from nbtrail.practices.evaluation.multiclass import (
    MULTICLASS_KERNELS,
    MULTICLASS_METRICS,
    per_class_table,
)
from nbtrail.practices.evaluation.plan import validate_plan
from nbtrail.practices.evaluation.report import evidently_report, snapshot_metrics
from nbtrail.practices.evaluation.slices import (
    SliceReport,
    normalise_slices,
    slice_labels,
    slice_metrics,
)
from nbtrail.practices.evaluation.targets import (
    binary_labels,
    class_codes,
    infer_task,
    prepare_target,
    require_columns,
    scores_for,
    target_classes,
)

__all__ = [
    "CLASSIFICATION_METRICS",
    "KERNELS",
    "LOWER_IS_BETTER",
    "METRICS_BY_TASK",
    "MULTICLASS_KERNELS",
    "MULTICLASS_METRICS",
    "REGRESSION_METRICS",
    "BootstrapOptions",
    "GateResult",
    "Interval",
    "MetricOptions",
    "Resampled",
    "Resampling",
    "Scoring",
    "SliceReport",
    "TestResult",
    "behavioural_suite",
    "binary_labels",
    "bootstrap_draws",
    "check_gates",
    "check_interval_request",
    "class_codes",
    "correct_rows",
    "directional_class",
    "directional_test",
    "evaluate_holdout",
    "evidently_report",
    "expected_calibration_error",
    "gates_for_task",
    "gates_table",
    "higher_is_better",
    "infer_task",
    "intervals_table",
    "invariance_test",
    "metric_batch",
    "metric_weighted",
    "metrics_for",
    "min_slice_performance_test",
    "normalise_slices",
    "per_class_table",
    "percentile_interval",
    "plain",
    "point_metrics",
    "prepare_target",
    "raise_for_gates",
    "require_columns",
    "resample_scores",
    "resample_weights",
    "scores_for",
    "score_function",
    "slice_labels",
    "slice_metrics",
    "snapshot_metrics",
    "target_classes",
    "tests_table",
    "validate_plan",
    "weights_of",
]
