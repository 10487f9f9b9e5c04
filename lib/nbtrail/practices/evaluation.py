"""Offline model testing on the holdout: metrics with bootstrap intervals, slices,
behavioural tests and gates.

Everything here works on plain arrays and pandas frames; the evaluate notebook maps its
parameters onto these calls and records the results (each result has ``to_dict()`` giving
JSON-able values for ``run.save_json`` / ``run.log_metrics`` / ``run.verdict``).

- **Metrics** (:func:`evaluate_holdout`): classification (binary target, score = probability
  of the positive class): ``roc_auc``, ``accuracy``, ``f1``, ``log_loss``, ``calibration_error``
  (expected calibration error over equal-width probability bins, the sklearn
  ``calibration_curve(strategy="uniform")`` binning); regression (numeric target): ``mae``,
  ``rmse``, ``r2``. Intervals are percentile bootstrap intervals over resampled holdout rows;
  the metric kernels are weighted sums over rows, vectorised over blocks of resamples (AUC
  through tie groups in score order, which equals sklearn's ``roc_auc_score`` with ties).
- **Slices** (:func:`slice_metrics`): a categorical column, explicit bin edges
  (``{"mean_radius": [0, 12, 15, 100]}``) or a quantile count (``{"mean_radius": 4}``).
- **Behavioural tests** (:func:`invariance_test`, :func:`directional_test`,
  :func:`min_slice_performance_test`, :func:`behavioural_suite`), each named, pass/fail.
- **Gates** (:func:`check_gates`, :func:`raise_for_gates`): ``min_<metric>`` / ``max_<metric>``.
- **Evidently** (:func:`evidently_report`): the Evidently 0.7 classification or regression
  preset as a ``Snapshot``.

Bad input raises :class:`~nbtrail.errors.ParameterError` (a parameter names a column that does
not exist, a malformed slice or gate) or :class:`~nbtrail.errors.DataError` (a holdout too small
for the requested intervals, a target that is neither binary nor numeric).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nbtrail.core.errors import DataError, GateFailed, ParameterError

CLASSIFICATION_METRICS: tuple[str, ...] = (
    "roc_auc",
    "accuracy",
    "f1",
    "log_loss",
    "calibration_error",
)
REGRESSION_METRICS: tuple[str, ...] = ("mae", "rmse", "r2")
# Metrics where a larger value is worse; every other metric is "higher is better".
LOWER_IS_BETTER: frozenset[str] = frozenset(
    {"log_loss", "calibration_error", "mae", "rmse", "worst_slice_gap"}
)
# Resamples are computed in blocks so that block * rows stays under this many cells.
_BLOCK_CELLS = 2_000_000


def plain(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays and tuples turned into JSON-able Python values.

    NaN and infinities become ``None`` (JSON has no NaN)."""
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [plain(v) for v in obj.tolist()]
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    return obj


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


# --------------------------------------------------------------------------- task and inputs


def infer_task(y: Sequence[Any] | np.ndarray | pd.Series) -> str:
    """``"classification"`` for a binary target, ``"regression"`` for a numeric one."""
    s = pd.Series(np.asarray(y))
    if s.isna().any():
        raise DataError("the target has missing values", hint="drop or fill them first")
    n_unique = s.nunique()
    if pd.api.types.is_bool_dtype(s) or n_unique <= 2:
        return "classification"
    if pd.api.types.is_numeric_dtype(s):
        return "regression"
    raise DataError(
        f"the target has {n_unique} distinct non-numeric values: only binary classification "
        "and numeric regression targets are supported"
    )


def binary_labels(y: Sequence[Any] | np.ndarray | pd.Series, pos_label: Any = 1) -> np.ndarray:
    """``y`` as a 0/1 int array where 1 means ``pos_label``."""
    arr = np.asarray(y)
    values = set(pd.unique(arr).tolist())
    if len(values) > 2:
        raise DataError(f"a binary target was expected; found {len(values)} distinct values")
    if pos_label not in values and len(values) == 2:
        raise ParameterError(
            f"pos_label {pos_label!r} is not a value of the target "
            f"(values: {sorted(map(str, values))})",
            parameter="pos_label",
        )
    return (arr == pos_label).astype(np.int8)


def require_columns(frame: pd.DataFrame, columns: Iterable[str], parameter: str) -> None:
    """Raise :class:`ParameterError` naming ``parameter`` when a column is not in ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        shown = ", ".join(map(str, list(frame.columns)[:12]))
        more = "" if len(frame.columns) <= 12 else f", ... ({len(frame.columns)} in all)"
        raise ParameterError(
            f"parameter {parameter!r} names column(s) not in the data: "
            f"{', '.join(map(repr, missing))}; available: {shown}{more}",
            parameter=parameter,
        )


# --------------------------------------------------------------------------- metric kernels
# Each kernel takes y (n,), s (n,) and a weight matrix w (B, n) -- how many times each row
# appears in each of B resamples -- and returns the metric on each resample (B,). Every
# metric is a weighted sum, so a block of resamples costs a few matrix-vector products and
# no per-resample sorting; w = ones((1, n)) gives the plain metric.


def _auc_w(y: np.ndarray, s: np.ndarray, w: np.ndarray) -> np.ndarray:
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


def _accuracy_w(y: np.ndarray, s: np.ndarray, w: np.ndarray, threshold: float) -> np.ndarray:
    correct = ((s >= threshold) == (y == 1)).astype(np.float64)
    return (w @ correct) / w.sum(axis=1)


def _f1_w(y: np.ndarray, s: np.ndarray, w: np.ndarray, threshold: float) -> np.ndarray:
    pred, truth = s >= threshold, y == 1
    tp = w @ (pred & truth).astype(np.float64)
    fp = w @ (pred & ~truth).astype(np.float64)
    fn = w @ (~pred & truth).astype(np.float64)
    denom = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / denom, 0.0)  # sklearn: 0 when undefined


def _log_loss_w(y: np.ndarray, s: np.ndarray, w: np.ndarray) -> np.ndarray:
    eps = np.finfo(np.float64).eps
    p = np.clip(s.astype(np.float64), eps, 1 - eps)
    per_row = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    return (w @ per_row) / w.sum(axis=1)


def _ece_w(y: np.ndarray, s: np.ndarray, w: np.ndarray, n_bins: int) -> np.ndarray:
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], s)  # the binning of sklearn's calibration_curve
    resid = np.zeros((len(s), n_bins))
    resid[np.arange(len(s)), bins] = s - y
    return np.abs(w @ resid).sum(axis=1) / w.sum(axis=1)


def _regression_w(name: str, y: np.ndarray, s: np.ndarray, w: np.ndarray) -> np.ndarray:
    total = w.sum(axis=1)
    err = s.astype(np.float64) - y
    if name == "mae":
        return (w @ np.abs(err)) / total
    if name == "rmse":
        return np.sqrt((w @ err**2) / total)
    yc = y - y.mean()  # centred, so the sums of squares do not cancel catastrophically
    ss_tot = w @ yc**2 - (w @ yc) ** 2 / total
    ss_res = w @ err**2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ss_tot > 0, 1 - ss_res / ss_tot, np.nan)


def metric_weighted(
    name: str,
    y: np.ndarray,
    s: np.ndarray,
    w: np.ndarray,
    *,
    threshold: float = 0.5,
    n_bins: int = 10,
) -> np.ndarray:
    """The metric ``name`` on each resample given by row weights ``w`` (shape ``(B, n)``)."""
    y = np.asarray(y, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    if name == "roc_auc":
        return _auc_w(y, s, w)
    if name == "accuracy":
        return _accuracy_w(y, s, w, threshold)
    if name == "f1":
        return _f1_w(y, s, w, threshold)
    if name == "log_loss":
        return _log_loss_w(y, s, w)
    if name == "calibration_error":
        return _ece_w(y, s, w, n_bins)
    if name in REGRESSION_METRICS:
        return _regression_w(name, y, s, w)
    raise ParameterError(
        f"unknown metric {name!r}",
        parameter="metrics",
        valid=list(CLASSIFICATION_METRICS + REGRESSION_METRICS),
    )


def weights_of(idx: np.ndarray, n: int) -> np.ndarray:
    """Row weights ``(B, n)`` of resample index rows ``idx`` ``(B, m)``."""
    b = idx.shape[0]
    flat = (np.arange(b)[:, None] * n + idx).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


def metric_batch(
    name: str,
    y: np.ndarray,
    s: np.ndarray,
    idx: np.ndarray,
    *,
    threshold: float = 0.5,
    n_bins: int = 10,
) -> np.ndarray:
    """The metric ``name`` on each row of resample indices ``idx`` (shape ``(B, n)``)."""
    w = weights_of(np.asarray(idx), len(y))
    return metric_weighted(name, y, s, w, threshold=threshold, n_bins=n_bins)


def point_metrics(
    y: np.ndarray,
    s: np.ndarray,
    metrics: Sequence[str],
    *,
    threshold: float = 0.5,
    n_bins: int = 10,
) -> dict[str, float]:
    """Each metric on all rows (no resampling)."""
    w = np.ones((1, len(y)))
    return {
        m: float(metric_weighted(m, y, s, w, threshold=threshold, n_bins=n_bins)[0])
        for m in metrics
    }


def expected_calibration_error(y_true: Any, proba: Any, n_bins: int = 10) -> float:
    """ECE: sum over equal-width bins of (bin share) * |observed rate - mean probability|."""
    y = np.asarray(y_true, dtype=np.float64)
    s = np.asarray(proba, dtype=np.float64)
    return float(_ece_w(y, s, np.ones((1, len(y))), n_bins)[0])


def resample_weights(n: int, n_boot: int, seed: int) -> Iterable[np.ndarray]:
    """Bootstrap resamples of ``n`` rows as row-weight blocks ``(B, n)``, from one seeded
    generator (the same seed gives the same resamples, so two models can share them)."""
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_CELLS // max(n, 1))
    done = 0
    while done < n_boot:
        size = min(block, n_boot - done)
        yield weights_of(rng.integers(0, n, size=(size, n)), n)
        done += size


# --------------------------------------------------------------------------- intervals


@dataclass(frozen=True)
class Interval:
    """A metric's point value on the holdout and its percentile bootstrap interval."""

    metric: str
    value: float
    low: float
    high: float
    level: float
    n_boot: int
    n_rows: int

    def to_dict(self) -> dict[str, Any]:
        return plain(asdict(self))


def check_interval_request(
    n_rows: int,
    *,
    n_boot: int,
    level: float,
    min_rows: int,
    y: np.ndarray | None = None,
    min_class_rows: int = 0,
) -> None:
    """Refuse a holdout too small for the requested intervals, or an impossible request."""
    if not 0 < level < 1:
        raise ParameterError(f"level must be in (0, 1), got {level!r}", parameter="level")
    tail = n_boot * (1 - level) / 2
    if tail < 5:
        raise ParameterError(
            f"n_boot={n_boot} is too few resamples for a {level:.0%} interval "
            f"(fewer than 5 resamples in each tail); use n_boot >= {math.ceil(10 / (1 - level))}",
            parameter="n_boot",
        )
    if n_rows < min_rows:
        raise DataError(
            f"the holdout has {n_rows} rows, too few for bootstrap intervals (min_rows={min_rows})",
            hint="use a larger holdout or lower min_rows",
            n_rows=n_rows,
            min_rows=min_rows,
        )
    if y is not None and min_class_rows:
        n_pos = int(y.sum())
        n_neg = int(len(y) - n_pos)
        if min(n_pos, n_neg) < min_class_rows:
            raise DataError(
                f"the holdout has {n_pos} positive and {n_neg} negative rows, too few of one "
                f"class for bootstrap intervals (min_class_rows={min_class_rows})",
                hint="use a larger or stratified holdout",
                n_pos=n_pos,
                n_neg=n_neg,
            )


def prepare_target(
    y_true: Any, task: str | None, metrics: Sequence[str] | None, pos_label: Any
) -> tuple[str, np.ndarray, tuple[str, ...]]:
    """The task (inferred when None), the target as an array (0/1 for classification) and the
    metrics to compute (the task's defaults when None)."""
    task = task or infer_task(y_true)
    if task == "classification":
        return task, binary_labels(y_true, pos_label), tuple(metrics or CLASSIFICATION_METRICS)
    if task == "regression":
        y = np.asarray(y_true, dtype=np.float64)
        return task, y, tuple(metrics or REGRESSION_METRICS)
    raise ParameterError(
        f"task must be 'classification' or 'regression', got {task!r}", parameter="task"
    )


def scores_for(y: np.ndarray, score: Any, *, what: str = "scores", context: str = "") -> np.ndarray:
    """``score`` as a float array, one finite value per target value (``context`` leads the
    message when the lengths differ)."""
    s = np.asarray(score, dtype=np.float64)
    if s.shape != y.shape:
        raise DataError(f"{context}{len(s)} {what} for {len(y)} target values")
    if not np.isfinite(s).all():
        raise DataError(f"the {what} contain NaN or infinite values")
    return s


def bootstrap_draws(
    n_rows: int,
    metrics: Sequence[str],
    statistic: Callable[[str, np.ndarray], np.ndarray],
    *,
    n_boot: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """Per metric, ``statistic(metric, weights)`` over ``n_boot`` row resamples (weights of
    shape ``(B, n_rows)``, drawn in chunks), keeping only the finite draws: the one bootstrap
    loop that holdout intervals and paired A/B differences share."""
    draws: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    for w in resample_weights(n_rows, n_boot, seed):
        for m in metrics:
            draws[m].append(statistic(m, w))
    out: dict[str, np.ndarray] = {}
    for m, parts in draws.items():
        d = np.concatenate(parts) if parts else np.empty(0)
        out[m] = d[np.isfinite(d)]
    return out


def evaluate_holdout(
    y_true: Any,
    score: Any,
    *,
    task: str | None = None,
    metrics: Sequence[str] | None = None,
    threshold: float = 0.5,
    pos_label: Any = 1,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    n_bins: int = 10,
    min_rows: int = 30,
    min_class_rows: int = 10,
) -> dict[str, Interval]:
    """Holdout metrics with percentile bootstrap intervals (``n_boot`` resamples of rows).

    ``score`` is the probability of ``pos_label`` for classification, the prediction for
    regression. Resamples where a metric is undefined (an AUC on one class) are dropped."""
    task, y, metrics = prepare_target(y_true, task, metrics, pos_label)
    if task == "regression":
        min_class_rows = 0
    s = scores_for(y, score)
    check_interval_request(
        len(y),
        n_boot=n_boot,
        level=level,
        min_rows=min_rows,
        y=y if task == "classification" else None,
        min_class_rows=min_class_rows,
    )
    values = point_metrics(y, s, metrics, threshold=threshold, n_bins=n_bins)
    draws = bootstrap_draws(
        len(y),
        metrics,
        lambda m, w: metric_weighted(m, y, s, w, threshold=threshold, n_bins=n_bins),
        n_boot=n_boot,
        seed=seed,
    )
    alpha = 1 - level
    out: dict[str, Interval] = {}
    for m in metrics:
        d = draws[m]
        low, high = np.quantile(d, [alpha / 2, 1 - alpha / 2]) if len(d) else (np.nan, np.nan)
        out[m] = Interval(m, values[m], float(low), float(high), level, n_boot, len(y))
    return out


def intervals_table(intervals: Mapping[str, Interval]) -> pd.DataFrame:
    """A display table: one row per metric with value, low, high."""
    return pd.DataFrame(
        [
            {"metric": k, "value": v.value, "low": v.low, "high": v.high}
            for k, v in intervals.items()
        ]
    ).set_index("metric")


# --------------------------------------------------------------------------- slices


@dataclass(frozen=True)
class SliceReport:
    """Metrics per slice; the worst slice by ``metric`` and its gap to the whole holdout.

    ``gap`` is positive when the worst slice is worse than overall (in the metric's own
    direction); ``flagged`` is True when ``gap`` exceeds ``max_gap``."""

    metric: str
    overall: float
    table: pd.DataFrame
    worst: dict[str, Any] | None
    gap: float
    max_gap: float | None
    flagged: bool
    min_rows: int

    def to_dict(self) -> dict[str, Any]:
        return plain(
            {
                "metric": self.metric,
                "overall": self.overall,
                "worst": self.worst,
                "gap": self.gap,
                "max_gap": self.max_gap,
                "flagged": self.flagged,
                "min_rows": self.min_rows,
                "slices": self.table.to_dict(orient="records"),
            }
        )


def normalise_slices(slices: Mapping[str, Any] | Sequence[str] | None) -> dict[str, Any]:
    """Slices parameter as ``{column: spec}``: a list of names means categorical columns."""
    if slices is None:
        return {}
    if isinstance(slices, str):
        return {slices: "category"}
    if isinstance(slices, Mapping):
        return dict(slices)
    return {str(c): "category" for c in slices}


def slice_labels(frame: pd.DataFrame, column: str, spec: Any) -> pd.Series:
    """The slice label of each row for one slice spec (``"category"``, edges, quantile count);
    bins come back as an ordered categorical (lowest bin first)."""
    col = frame[column]
    if spec in ("category", "categorical", None):
        return col.astype("string").fillna("<missing>")
    if not pd.api.types.is_numeric_dtype(col):
        raise ParameterError(
            f"slices[{column!r}]: bins need a numeric column, {column!r} is {col.dtype}",
            parameter="slices",
        )
    if isinstance(spec, bool) or not isinstance(spec, (int, list, tuple)):
        raise ParameterError(
            f"slices[{column!r}] must be 'category', a quantile count or a list of bin edges, "
            f"got {spec!r}",
            parameter="slices",
        )
    if isinstance(spec, int):
        if spec < 2:
            raise ParameterError(
                f"slices[{column!r}]: a quantile count must be >= 2, got {spec}",
                parameter="slices",
            )
        cut = pd.qcut(col, q=spec, duplicates="drop")
    else:
        edges = [float(e) for e in spec]
        if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
            raise ParameterError(
                f"slices[{column!r}]: bin edges must be at least two increasing numbers, "
                f"got {list(spec)!r}",
                parameter="slices",
            )
        cut = pd.cut(col, bins=edges, include_lowest=True)
    # Categorical labels keep the bins' order (lowest first); the rest sort after them.
    labels = cut.astype("string").fillna("<outside bins>")
    order = [str(c) for c in cut.cat.categories] + ["<outside bins>"]
    return pd.Series(pd.Categorical(labels, categories=order, ordered=True), index=col.index)


def slice_metrics(
    frame: pd.DataFrame,
    y_true: Any,
    score: Any,
    slices: Mapping[str, Any] | Sequence[str] | None,
    *,
    task: str | None = None,
    metric: str | None = None,
    threshold: float = 0.5,
    pos_label: Any = 1,
    min_rows: int = 10,
    max_gap: float | None = None,
    n_bins: int = 10,
) -> SliceReport:
    """Metrics per slice of ``frame`` (rows aligned with ``y_true`` and ``score``).

    ``metric`` (default ``accuracy`` / ``mae``) picks the worst slice among slices with at
    least ``min_rows`` rows where it is defined."""
    spec = normalise_slices(slices)
    require_columns(frame, spec.keys(), "slices")
    task = task or infer_task(y_true)
    if task == "classification":
        y = binary_labels(y_true, pos_label)
        metrics = CLASSIFICATION_METRICS
        metric = metric or "accuracy"
    else:
        y = np.asarray(y_true, dtype=np.float64)
        metrics = REGRESSION_METRICS
        metric = metric or "mae"
    if metric not in metrics:
        raise ParameterError(
            f"slice metric {metric!r} is not a {task} metric",
            parameter="slice_metric",
            valid=list(metrics),
        )
    s = np.asarray(score, dtype=np.float64)
    if len(frame) != len(y) or len(s) != len(y):
        raise DataError(f"{len(frame)} rows, {len(y)} targets and {len(s)} scores differ")
    overall = point_metrics(y, s, [metric], threshold=threshold, n_bins=n_bins)[metric]
    rows: list[dict[str, Any]] = []
    for column, sp in spec.items():
        labels = slice_labels(frame, column, sp)
        if isinstance(labels.dtype, pd.CategoricalDtype):
            present = [c for c in labels.cat.categories if (labels == c).any()]
        else:
            present = sorted(pd.unique(labels.to_numpy()).tolist())
        values_arr = labels.astype("string").to_numpy()
        for label in present:
            mask = values_arr == str(label)
            ym, sm = y[mask], s[mask]
            with np.errstate(all="ignore"):
                vals = point_metrics(ym, sm, metrics, threshold=threshold, n_bins=n_bins)
            rows.append(
                {
                    "column": column,
                    "slice": str(label),
                    "n": int(mask.sum()),
                    **vals,
                    "eligible": bool(mask.sum() >= min_rows and np.isfinite(vals[metric])),
                }
            )
    table = pd.DataFrame(rows, columns=["column", "slice", "n", *metrics, "eligible"])
    eligible = table[table["eligible"]]
    worst: dict[str, Any] | None = None
    gap = float("nan")
    if len(eligible):
        pos = eligible[metric].idxmin() if higher_is_better(metric) else eligible[metric].idxmax()
        w = eligible.loc[pos]
        worst = {
            "column": w["column"],
            "slice": w["slice"],
            "n": int(w["n"]),
            "value": float(w[metric]),
        }
        gap = overall - worst["value"] if higher_is_better(metric) else worst["value"] - overall
    flagged = bool(max_gap is not None and np.isfinite(gap) and gap > max_gap)
    return SliceReport(metric, overall, table, worst, float(gap), max_gap, flagged, min_rows)


def validate_plan(
    frame: pd.DataFrame,
    *,
    slices: Mapping[str, Any] | Sequence[str] | None = None,
    behavioural: Mapping[str, Any] | None = None,
) -> None:
    """Check every column and spec the parameters name before anything is computed or
    recorded, so bad input fails with nothing recorded as passed."""
    spec = normalise_slices(slices)
    require_columns(frame, spec.keys(), "slices")
    for column, sp in spec.items():
        slice_labels(frame, column, sp)
    b = dict(behavioural or {})
    unknown = set(b) - _SUITE_KEYS
    if unknown:
        raise ParameterError(
            f"behavioural tests: unknown kind(s) {sorted(unknown)}",
            parameter="behavioural",
            valid=sorted(_SUITE_KEYS),
        )
    for i, item in enumerate(b.get("invariance") or []):
        cols = item.get("columns") if isinstance(item, Mapping) else None
        if not cols:
            raise ParameterError(
                f"behavioural.invariance[{i}] needs 'columns'", parameter="behavioural"
            )
        require_columns(frame, [cols] if isinstance(cols, str) else cols, "behavioural.invariance")
    for i, item in enumerate(b.get("directional") or []):
        if not isinstance(item, Mapping) or "column" not in item or "direction" not in item:
            raise ParameterError(
                f"behavioural.directional[{i}] needs 'column' and 'direction'",
                parameter="behavioural",
            )
        require_columns(frame, [item["column"]], "behavioural.directional")


# --------------------------------------------------------------------------- behavioural tests


@dataclass(frozen=True)
class TestResult:
    """One named behavioural test: ``value`` compared with ``bound``."""

    __test__ = False  # not a pytest class

    name: str
    kind: str
    passed: bool
    value: float
    bound: float
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return plain(asdict(self))


def score_function(
    model: Any, task: str = "classification", columns: Sequence[str] | None = None
) -> Callable[[pd.DataFrame], Any]:
    """``frame -> scores``: the positive-class probability, or the regression prediction.

    The frame may hold more columns than the model takes: ``columns`` (default the model's
    ``feature_names_in_``) are selected first, so behavioural tests can perturb any column
    of the data and see whether the model responds."""
    cols = list(columns) if columns is not None else getattr(model, "feature_names_in_", None)

    def select(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[list(cols)] if cols is not None else frame

    if task == "classification":
        return lambda frame: np.asarray(model.predict_proba(select(frame)))[:, 1]
    return lambda frame: np.asarray(model.predict(select(frame)), dtype=np.float64)


def _column_step(frame: pd.DataFrame, column: str, delta: float) -> float:
    col = frame[column]
    if not pd.api.types.is_numeric_dtype(col):
        raise ParameterError(
            f"behavioural tests perturb numeric columns; {column!r} is {col.dtype}",
            parameter="behavioural",
        )
    sd = float(col.std(ddof=0))
    return delta * (sd if sd > 0 else 1.0)


def invariance_test(
    predict: Callable[[pd.DataFrame], Any],
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    delta: float = 0.01,
    tolerance: float = 0.05,
    name: str | None = None,
    parameter: str = "invariance",
) -> TestResult:
    """Shift each named column by ``±delta`` standard deviations (all at once): the score of
    every row may change by at most ``tolerance``. ``value`` is the largest change."""
    columns = [columns] if isinstance(columns, str) else list(columns)
    require_columns(frame, columns, parameter)
    base = np.asarray(predict(frame), dtype=np.float64)
    worst = np.zeros(len(frame))
    for sign in (1.0, -1.0):
        moved = frame.copy()
        for c in columns:
            moved[c] = moved[c] + sign * _column_step(frame, c, delta)
        worst = np.maximum(worst, np.abs(np.asarray(predict(moved), dtype=np.float64) - base))
    value = float(worst.max()) if len(worst) else 0.0
    return TestResult(
        name=name or f"invariance[{','.join(columns)}]",
        kind="invariance",
        passed=bool(value <= tolerance),
        value=value,
        bound=float(tolerance),
        details={
            "columns": columns,
            "delta_sd": delta,
            "mean_change": float(worst.mean()),
            "rows_over_tolerance": int((worst > tolerance).sum()),
            "n": len(frame),
        },
    )


def directional_test(
    predict: Callable[[pd.DataFrame], Any],
    frame: pd.DataFrame,
    column: str,
    direction: str,
    *,
    delta: float = 1.0,
    max_violation_rate: float = 0.05,
    tolerance: float = 0.01,
    name: str | None = None,
    parameter: str = "directional",
) -> TestResult:
    """Raise ``column`` by ``delta`` standard deviations: the score should move the stated way
    (``"increase"`` or ``"decrease"``). ``value`` is the share of rows that moved the other way
    by more than ``tolerance`` (tree ensembles wobble by ~1e-4 on saturated scores; that is not
    a reversal); it passes when that share is at most ``max_violation_rate`` and the mean
    change has the stated sign."""
    if direction not in ("increase", "decrease"):
        raise ParameterError(
            f"{parameter}[{column!r}]: direction must be 'increase' or 'decrease', "
            f"got {direction!r}",
            parameter=parameter,
        )
    require_columns(frame, [column], parameter)
    base = np.asarray(predict(frame), dtype=np.float64)
    moved = frame.copy()
    moved[column] = moved[column] + _column_step(frame, column, delta)
    change = np.asarray(predict(moved), dtype=np.float64) - base
    sign = 1.0 if direction == "increase" else -1.0
    violations = (sign * change) < -tolerance
    rate = float(violations.mean()) if len(change) else 0.0
    mean_change = float(change.mean()) if len(change) else 0.0
    passed = rate <= max_violation_rate and sign * mean_change > 0
    return TestResult(
        name=name or f"directional[{column}:{direction}]",
        kind="directional",
        passed=bool(passed),
        value=rate,
        bound=float(max_violation_rate),
        details={
            "column": column,
            "direction": direction,
            "delta_sd": delta,
            "mean_change": mean_change,
            "violations": int(violations.sum()),
            "tolerance": tolerance,
            "largest_reversal": float(max(0.0, (-sign * change).max())) if len(change) else 0.0,
            "n": len(change),
        },
    )


def min_slice_performance_test(report: SliceReport, bound: float) -> list[TestResult]:
    """One test per slice column: its worst eligible slice must reach ``bound`` on the
    report's metric (at most ``bound`` for lower-is-better metrics)."""
    out: list[TestResult] = []
    hib = higher_is_better(report.metric)
    for column, group in report.table.groupby("column", sort=False):
        eligible = group[group["eligible"]]
        if len(eligible):
            pos = eligible[report.metric].idxmin() if hib else eligible[report.metric].idxmax()
            value = float(eligible.loc[pos, report.metric])
            worst_slice = str(eligible.loc[pos, "slice"])
            passed = value >= bound if hib else value <= bound
        else:
            value, worst_slice, passed = float("nan"), None, False
        out.append(
            TestResult(
                name=f"min_slice_{report.metric}[{column}]",
                kind="min_slice_performance",
                passed=bool(passed),
                value=value,
                bound=float(bound),
                details={
                    "column": column,
                    "worst_slice": worst_slice,
                    "slices_checked": len(eligible),
                    "min_rows": report.min_rows,
                },
            )
        )
    return out


_SUITE_KEYS = {"invariance", "directional"}


def behavioural_suite(
    predict: Callable[[pd.DataFrame], Any],
    frame: pd.DataFrame,
    spec: Mapping[str, Any] | None,
) -> list[TestResult]:
    """Run the tests a parameter describes, e.g.::

    {"invariance": [{"columns": ["mean_texture"], "delta": 0.01, "tolerance": 0.05}],
     "directional": [{"column": "worst_radius", "direction": "decrease", "delta": 1.0,
                      "max_violation_rate": 0.05}]}
    """
    spec = dict(spec or {})
    unknown = set(spec) - _SUITE_KEYS
    if unknown:
        raise ParameterError(
            f"behavioural tests: unknown kind(s) {sorted(unknown)}",
            parameter="behavioural",
            valid=sorted(_SUITE_KEYS),
        )
    results: list[TestResult] = []
    for i, item in enumerate(spec.get("invariance") or []):
        item = dict(item)
        if "columns" not in item:
            raise ParameterError(
                f"behavioural.invariance[{i}] needs 'columns'", parameter="behavioural"
            )
        results.append(
            invariance_test(
                predict,
                frame,
                item.pop("columns"),
                parameter="behavioural.invariance",
                **_known(item, {"delta", "tolerance", "name"}, f"behavioural.invariance[{i}]"),
            )
        )
    for i, item in enumerate(spec.get("directional") or []):
        item = dict(item)
        if "column" not in item or "direction" not in item:
            raise ParameterError(
                f"behavioural.directional[{i}] needs 'column' and 'direction'",
                parameter="behavioural",
            )
        results.append(
            directional_test(
                predict,
                frame,
                item.pop("column"),
                item.pop("direction"),
                parameter="behavioural.directional",
                **_known(
                    item,
                    {"delta", "max_violation_rate", "tolerance", "name"},
                    f"behavioural.directional[{i}]",
                ),
            )
        )
    return results


def _known(item: Mapping[str, Any], allowed: set[str], where: str) -> dict[str, Any]:
    extra = set(item) - allowed
    if extra:
        raise ParameterError(
            f"{where}: unknown key(s) {sorted(extra)}",
            parameter="behavioural",
            valid=sorted(allowed),
        )
    return dict(item)


def tests_table(results: Sequence[TestResult]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"test": r.name, "kind": r.kind, "passed": r.passed, "value": r.value, "bound": r.bound}
            for r in results
        ]
    )


# --------------------------------------------------------------------------- gates


@dataclass(frozen=True)
class GateResult:
    """A gate ``min_<metric>`` (value >= bound) or ``max_<metric>`` (value <= bound)."""

    name: str
    metric: str
    op: str
    value: float
    bound: float
    passed: bool
    on: str = "value"

    def to_dict(self) -> dict[str, Any]:
        return plain(asdict(self))


def check_gates(
    values: Mapping[str, float],
    gates: Mapping[str, float | None] | None,
    *,
    intervals: Mapping[str, Interval] | None = None,
    on: str = "value",
) -> list[GateResult]:
    """Compare ``values`` with the gates a parameter gives (``None`` turns a gate off).

    ``on="value"`` gates the point estimate; ``on="interval"`` gates the pessimistic end of
    the bootstrap interval (the lower end for ``min_``, the upper end for ``max_``), for
    metrics that have one. A NaN value fails its gate."""
    if on not in ("value", "interval"):
        raise ParameterError(
            f"gate_on must be 'value' or 'interval', got {on!r}", parameter="gate_on"
        )
    results: list[GateResult] = []
    for name, bound in (gates or {}).items():
        if bound is None:
            continue
        prefix, _, metric = name.partition("_")
        if prefix not in ("min", "max") or not metric:
            raise ParameterError(
                f"gate {name!r} must be named min_<metric> or max_<metric>", parameter="gates"
            )
        if metric not in values:
            raise ParameterError(
                f"gate {name!r} refers to metric {metric!r}, which was not computed",
                parameter="gates",
                valid=[f"min_{m}" for m in values] + [f"max_{m}" for m in values],
            )
        source = "value"
        value = float(values[metric])
        if on == "interval" and intervals and metric in intervals:
            iv = intervals[metric]
            value = iv.low if prefix == "min" else iv.high
            source = f"interval_{'low' if prefix == 'min' else 'high'}"
        try:
            bound_f = float(bound)
        except (TypeError, ValueError):
            raise ParameterError(
                f"gate {name!r}: bound {bound!r} is not a number", parameter="gates"
            ) from None
        ok = value >= bound_f if prefix == "min" else value <= bound_f
        results.append(
            GateResult(
                name,
                metric,
                ">=" if prefix == "min" else "<=",
                value,
                bound_f,
                bool(ok and math.isfinite(value)),
                source,
            )
        )
    return results


def gates_for_task(
    gates: Mapping[str, float | None], task: str
) -> tuple[dict[str, float | None], list[str]]:
    """Split gates into those whose metric ``task`` computes and those that do not apply
    (e.g. ``min_roc_auc`` on a regression target); gates on other names are kept, so
    :func:`check_gates` still refuses a misspelt one."""
    other = REGRESSION_METRICS if task == "classification" else CLASSIFICATION_METRICS
    kept: dict[str, float | None] = {}
    skipped: list[str] = []
    for name, bound in gates.items():
        metric = name.partition("_")[2]
        if metric in other:
            skipped.append(name)
        else:
            kept[name] = bound
    return kept, skipped


def raise_for_gates(results: Sequence[GateResult | TestResult]) -> None:
    """Raise :class:`GateFailed` naming the first failed gate (or behavioural test), its
    value and bound; the others that failed are listed after it."""
    failed = [r for r in results if not r.passed]
    if not failed:
        return
    first = failed[0]
    if isinstance(first, GateResult):
        what = (
            f"gate {first.name} failed: {first.metric} = {first.value:.4g}, "
            f"required {first.op} {first.bound:.4g}"
        )
    else:
        what = (
            f"behavioural test {first.name} failed: value {first.value:.4g}, "
            f"bound {first.bound:.4g}"
        )
    more = ""
    if len(failed) > 1:
        more = f" (and {len(failed) - 1} more: {', '.join(r.name for r in failed[1:])})"
    raise GateFailed(
        what + more,
        gate=first.name,
        value=first.value,
        bound=first.bound,
        failed=[r.name for r in failed],
    )


def gates_table(results: Sequence[GateResult]) -> pd.DataFrame:
    return pd.DataFrame([r.to_dict() for r in results])


# --------------------------------------------------------------------------- Evidently


def evidently_report(
    current: pd.DataFrame,
    *,
    target: str,
    score: str,
    task: str = "classification",
    reference: pd.DataFrame | None = None,
    pos_label: Any = 1,
    threshold: float = 0.5,
    columns: Sequence[str] = (),
) -> Any:
    """Run Evidently's classification (or regression) preset and return its ``Snapshot``.

    ``score`` is the positive-class probability column (or the regression prediction). With
    ``reference`` (for example the champion's scored holdout, with the challenger as
    ``current``) the report shows both side by side."""
    from evidently import BinaryClassification, DataDefinition, Dataset, Regression, Report
    from evidently.presets import ClassificationPreset, RegressionPreset

    wanted = [target, score, *columns]
    require_columns(current, wanted, "evidently columns")
    if reference is not None:
        require_columns(reference, wanted, "evidently columns")
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(current[c])]
    categorical = [c for c in columns if c not in numeric]
    if task == "classification":
        definition = DataDefinition(
            classification=[
                BinaryClassification(target=target, prediction_probas=score, pos_label=pos_label)
            ],
            numerical_columns=numeric,
            categorical_columns=categorical,
        )
        preset = ClassificationPreset(probas_threshold=threshold)
    elif task == "regression":
        definition = DataDefinition(
            regression=[Regression(target=target, prediction=score)],
            numerical_columns=numeric,
            categorical_columns=categorical,
        )
        preset = RegressionPreset()
    else:
        raise ParameterError(
            f"task must be 'classification' or 'regression', got {task!r}", parameter="task"
        )
    cur = Dataset.from_pandas(current[wanted].reset_index(drop=True), data_definition=definition)
    ref = None
    if reference is not None:
        ref = Dataset.from_pandas(
            reference[wanted].reset_index(drop=True), data_definition=definition
        )
    with warnings.catch_warnings():
        # Evidently's regression quality computes R2 per bin of rows, and a bin of one row
        # makes scikit-learn warn "R^2 score is not well-defined": noise, not our data.
        warnings.filterwarnings("ignore", message="R\\^2 score is not well-defined")
        return Report([preset]).run(cur, ref)


def snapshot_metrics(snapshot: Any) -> dict[str, Any]:
    """``{metric_name: value}`` from an Evidently snapshot (JSON-able)."""
    return plain({m["metric_name"]: m["value"] for m in snapshot.dict()["metrics"]})
