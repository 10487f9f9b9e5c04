"""Metrics per slice of the holdout: a categorical column, explicit bin edges
(``{"mean_radius": [0, 12, 15, 100]}``) or a quantile count (``{"mean_radius": 4}``); the
worst slice and its gap to the whole holdout."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nbtrail.core.errors import DataError, ParameterError
from nbtrail.practices.evaluation.jsonable import plain
from nbtrail.practices.evaluation.metrics import higher_is_better, metrics_for, point_metrics
from nbtrail.practices.evaluation.targets import prepare_target, require_columns, scores_for


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
    classes: Sequence[Any] | None = None,
    min_rows: int = 10,
    max_gap: float | None = None,
    n_bins: int = 10,
) -> SliceReport:
    """Metrics per slice of ``frame`` (rows aligned with ``y_true`` and ``score``: the
    positive-class probability, the class probabilities of ``classes`` for multiclass, or
    the prediction).

    ``metric`` (default ``accuracy``, or ``mae`` for regression) picks the worst slice
    among slices with at least ``min_rows`` rows where it is defined."""
    spec = normalise_slices(slices)
    require_columns(frame, spec.keys(), "slices")
    task, y, _ = prepare_target(y_true, task, None, pos_label, classes)
    metrics, _ = metrics_for(task, y)
    metric = metric or ("mae" if task == "regression" else "accuracy")
    if metric not in metrics:
        raise ParameterError(
            f"slice metric {metric!r} is not a {task} metric",
            parameter="slice_metric",
            valid=list(metrics),
        )
    if len(frame) != len(y) or len(score) != len(y):
        raise DataError(f"{len(frame)} rows, {len(y)} targets and {len(score)} scores differ")
    s = np.asarray(score, dtype=np.float64)
    s = scores_for(y, s, columns=s.shape[1] if task == "multiclass" else None)
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
