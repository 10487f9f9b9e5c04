"""``metrics.json``: the evaluation's metrics with confidence intervals, slices and tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nbtrail.practices.export.jsonvalues import number


def normalize_metrics(metrics: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{name: value}`` or ``{name: {"value", "ci_low", "ci_high"[, "level"]}}`` (also
    ``low``/``high`` or ``ci: [low, high]``) to ``{name: {value, ci_low, ci_high, level}}``."""
    out: dict[str, dict[str, Any]] = {}
    for name, m in metrics.items():
        if isinstance(m, Mapping):
            ci = m.get("ci")
            low = m.get("ci_low", m.get("low", ci[0] if ci else None))
            high = m.get("ci_high", m.get("high", ci[1] if ci else None))
            out[str(name)] = {
                "value": number(m.get("value", m.get("estimate"))),
                "ci_low": number(low),
                "ci_high": number(high),
                "level": number(
                    m.get("level", m.get("ci_level", 0.95 if low is not None else None))
                ),
            }
        else:
            out[str(name)] = {"value": number(m), "ci_low": None, "ci_high": None, "level": None}
    return out


def metrics_document(
    metrics: Mapping[str, Any],
    *,
    slices: Sequence[Mapping[str, Any]] = (),
    verdicts: Mapping[str, Any],
    evaluation_run: str | None,
) -> dict[str, Any]:
    """What ``metrics.json`` holds (and the model card shows): normalised metrics, slice rows,
    the evaluation's verdicts as tests, and the evaluation run's id."""
    return {
        "metrics": normalize_metrics(metrics),
        "slices": [dict(s) for s in slices],
        "tests": dict(verdicts),
        "evaluation_run": evaluation_run,
    }
