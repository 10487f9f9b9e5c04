"""The Evidently drift report of a batch, thresholds aligned with its verdict (a picture:
the verdict's table is authoritative)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nbtrail.practices.monitoring.config import MonitorConfig
from nbtrail.practices.monitoring.drift import as_numbers, bh_threshold
from nbtrail.practices.monitoring.quality import align_times, feature_columns
from nbtrail.practices.monitoring.sampling import sample_rows
from nbtrail.practices.monitoring.task import prediction_columns
from nbtrail.practices.monitoring.verdict import PREDICTION_COLUMNS, Verdict

if TYPE_CHECKING:
    from evidently.core.report import Snapshot


def drift_report(
    reference: pd.DataFrame,
    batch: pd.DataFrame,
    verdict: Verdict,
    config: MonitorConfig | None = None,
    *,
    target: str | None = "target",
    model: Any = None,
    features: Sequence[str] | None = None,
) -> Snapshot:
    """An Evidently report of the batch (drift of the tested columns and the prediction
    columns of the verdict's task).

    Every column gets the verdict's Benjamini-Hochberg threshold as its Evidently drift
    threshold, so for numeric columns (same KS p-value) Evidently's per-column pass/fail is the
    verdict's (bar the ``min_effect`` floor). For categorical columns Evidently's ``chisquare``
    is a goodness-of-fit test against the reference shares, so its p-value can differ from
    the verdict's homogeneity test; the verdict table is authoritative. Both datasets are
    sampled to ``config.report_rows`` rows (see :func:`sampling_error_bound`).
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    cfg = config or MonitorConfig()
    t = verdict.drift
    cols = t["column"].tolist()
    ref_s = sample_rows(reference, cfg.report_rows, cfg.seed)
    cur_s = sample_rows(batch, cfg.report_rows, cfg.seed + 1)
    tested = [c for c in cols if c not in PREDICTION_COLUMNS]
    cur_s = align_times(ref_s, cur_s, tested)
    ref, cur = ref_s[tested].copy(), cur_s[tested].copy()
    predicted = [c for c in cols if c in PREDICTION_COLUMNS]
    if predicted and model is not None and verdict.task is not None:
        feats = list(features) if features is not None else feature_columns(reference, target)
        ref = ref.assign(**prediction_columns(model, ref_s, feats, verdict.task)[0])
        cur = cur.assign(**prediction_columns(model, cur_s, feats, verdict.task)[0])
        ref, cur = ref[cols], cur[cols]
    else:
        cols = tested
    kinds = dict(zip(t["column"], t["kind"], strict=True))
    for c in cols:  # datetimes as the numbers the verdict tested (seconds since the epoch)
        if kinds[c] == "time":
            ref[c], cur[c] = as_numbers(ref[c]), as_numbers(cur[c])
    definition = DataDefinition(
        numerical_columns=[c for c in cols if kinds[c] in ("num", "time")],
        categorical_columns=[c for c in cols if kinds[c] == "cat"],
    )
    alpha = verdict.alpha
    joint = [verdict.multivariate["p_value"]] if verdict.multivariate else []
    threshold = bh_threshold([*t["p_value"], *joint], alpha)  # the verdict's BH family
    # Evidently flags p < threshold; BH rejects p <= its largest rejected p-value.
    threshold = float(np.nextafter(threshold, 1.0)) if threshold > 0 else alpha / max(len(t), 1)
    preset = DataDriftPreset(
        columns=cols,
        num_method="ks",
        cat_method="chisquare",
        threshold=threshold,
        drift_share=max(cfg.drift_share_fail, 1e-9),
    )
    report = Report([preset], include_tests=True)
    with without_unshown_column_plots():
        return report.run(
            Dataset.from_pandas(cur, data_definition=definition),
            Dataset.from_pandas(ref, data_definition=definition),
        )


def _no_widgets(*_args: Any, **_kwargs: Any) -> list[Any]:
    return []


@contextlib.contextmanager
def without_unshown_column_plots() -> Iterator[None]:
    """While a ``DataDriftPreset`` report runs, skip drawing the per-column plots of its
    ``ValueDrift`` metrics.

    The preset computes one ``ValueDrift`` per column (their values and tests are kept) and
    each draws two plotly figures; the preset's own page is then drawn by the legacy
    ``DataDriftTable``, which draws its own figures, and those of ``ValueDrift`` are dropped.
    Drawing them was a third of a report's time (the demo's 4 reports of 31 columns: 16.2 s to
    10.9 s in one process); the
    page is the same byte for byte (``tests/test_monitoring.py`` checks it). Evidently 0.7.23's
    ``ValueDriftCalculation._render``; restored on the way out.
    """
    from evidently.metrics.column_statistics import ValueDriftCalculation

    draw = ValueDriftCalculation.__dict__["_render"]
    ValueDriftCalculation._render = _no_widgets
    try:
        yield
    finally:
        ValueDriftCalculation._render = draw
