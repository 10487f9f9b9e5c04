"""Holdout metrics with percentile bootstrap intervals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Unpack

import pandas as pd

from nbtrail.practices.evaluation.bootstrap import (
    BootstrapOptions,
    Resampling,
    percentile_interval,
    resample_scores,
)
from nbtrail.practices.evaluation.jsonable import plain


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


def evaluate_holdout(
    y_true: Any, score: Any, **options: Unpack[BootstrapOptions]
) -> dict[str, Interval]:
    """Holdout metrics with percentile bootstrap intervals (``n_boot`` resamples of rows).

    ``score`` is the probability of ``pos_label`` for classification, the prediction for
    regression. Resamples where a metric is undefined (an AUC on one class) are dropped.
    ``options`` as :class:`~nbtrail.practices.evaluation.bootstrap.Resampling`: ``task``,
    ``metrics``, ``threshold=0.5``, ``pos_label=1``, ``n_boot=1000``, ``level=0.95``,
    ``seed=0``, ``n_bins=10``, ``min_rows=30``, ``min_class_rows=10``."""
    settings = Resampling.of(options, n_boot=1000)
    resampled = resample_scores(y_true, {"scores": score}, settings)
    (values,) = resampled.values
    out: dict[str, Interval] = {}
    for m in resampled.metrics:
        low, high = percentile_interval(resampled.draws[m], settings.level)
        out[m] = Interval(
            m, values[m], low, high, settings.level, settings.n_boot, len(resampled.y)
        )
    return out


def intervals_table(intervals: Mapping[str, Interval]) -> pd.DataFrame:
    """A display table: one row per metric with value, low, high."""
    return pd.DataFrame(
        [
            {"metric": k, "value": v.value, "low": v.low, "high": v.high}
            for k, v in intervals.items()
        ]
    ).set_index("metric")
