"""A batch's verdict: its checks, statuses and summary, and what a scheduler does with many.

:class:`Verdict` is what :func:`~nbtrail.practices.monitoring.check.check_batch` returns;
:func:`raise_for_verdicts` turns failed ones into :class:`~nbtrail.core.errors.VerdictFailed`
(exit code 8), :func:`check_expected` compares statuses with expected ones (demo mode).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from nbtrail.core.errors import VerdictFailed

PREDICTION = "prediction"  # the model's prediction, tested as one more column (see ``task``)
CONFIDENCE = "prediction_confidence"  # a multiclass model's largest class probability
PREDICTION_COLUMNS = (PREDICTION, CONFIDENCE)
PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass
class Check:
    """One check of a batch: its name, status, a one-line detail, and its value and bound."""

    name: str  # data_quality, data_drift, prediction_drift, performance, estimated_performance
    status: str  # pass, warn, fail
    detail: str
    value: float | None = None
    bound: float | None = None
    metric: str | None = None  # a performance check's metric (accuracy, mae, ...)

    @property
    def label(self) -> str:
        """The name, with the metric of a performance check: ``performance (mae)``."""
        return f"{self.name} ({self.metric})" if self.metric else self.name


@dataclass
class Verdict:
    """The outcome for one batch: checks, the per-column drift table and a one-line summary."""

    batch: str
    rows: int
    status: str
    kind: str | None  # "data quality", "covariate drift", "concept drift", ...
    summary: str
    checks: list[Check]
    drift: pd.DataFrame
    drift_share: float
    drifted_columns: list[str]
    metric: str | None = None  # the headline performance metric (the task's first)
    metric_value: float | None = None
    baseline: float | None = None
    quality: dict[str, Any] = field(default_factory=dict)
    alpha: float = 0.05  # the level the drift family was tested at (BH)
    task: str | None = None  # binary, multiclass, regression (None: no model)
    metrics: dict[str, float] = field(default_factory=dict)  # every performance metric
    baselines: dict[str, float] = field(default_factory=dict)  # and what it was held to
    estimate: dict[str, Any] | None = None  # a batch without labels: its estimated metrics

    @property
    def passed(self) -> bool:
        return self.status != FAIL

    def top_columns(self, k: int = 5) -> list[str]:
        """The ``k`` columns with the largest effect (drifted ones first)."""
        if self.drift.empty:
            return []
        t = self.drift.sort_values(["drifted", "effect"], ascending=[False, False])
        return [c for c in t["column"].head(k) if c not in PREDICTION_COLUMNS]

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "drift"}
        d["drift"] = self.drift.to_dict(orient="records")
        return d


def raise_for_verdicts(verdicts: Sequence[Verdict]) -> None:
    """Raise :class:`VerdictFailed` (exit code 8) naming every failed batch, if any."""
    failed = [v for v in verdicts if not v.passed]
    if failed:
        raise VerdictFailed(
            " | ".join(v.summary for v in failed),
            batches=[v.batch for v in failed],
        )


def check_expected(verdicts: Sequence[Verdict], expected: Mapping[str, str]) -> None:
    """Demo mode: raise :class:`VerdictFailed` if a batch's status is not the expected one."""
    wrong = [
        f"{v.batch}: expected {expected[v.batch]}, got {v.status}"
        for v in verdicts
        if v.batch in expected and (v.status == FAIL) != (expected[v.batch] == FAIL)
    ]
    if wrong:
        raise VerdictFailed("demo verdicts not as expected: " + "; ".join(wrong))


def verdict_frame(verdicts: Sequence[Verdict]) -> pd.DataFrame:
    """One row per batch: status, kind, drift share, headline metric and summary (for
    display)."""
    return pd.DataFrame(
        [
            {
                "batch": v.batch,
                "rows": v.rows,
                "status": v.status,
                "kind": v.kind or "",
                "drift_share": round(v.drift_share, 3),
                "drifted": ", ".join(v.drifted_columns),
                "metric": v.metric or "",
                "value": v.metric_value,
                "baseline": v.baseline,
                "summary": v.summary,
            }
            for v in verdicts
        ]
    )
