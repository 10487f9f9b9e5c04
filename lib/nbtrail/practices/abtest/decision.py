"""The decision from a paired comparison: promote / keep_champion / inconclusive, with the
reason; and the decision when there is no champion yet."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nbtrail.core.errors import ParameterError

DECISIONS: tuple[str, ...] = ("promote", "keep_champion", "inconclusive")


def decide(
    comparison: Mapping[str, Mapping[str, Any]],
    *,
    primary: str,
    alpha: float = 0.05,
    min_improvement: float = 0.0,
    max_degradation: Mapping[str, float] | float | None = None,
    challenger_gates_passed: bool = True,
    intervals: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The decision from the per-metric comparison (each with ``improvement``,
    ``improvement_ci`` and ``p_adjusted``), in this order:

    1. the challenger failed its own gates -> keep_champion (the reason adds what the
       statistics alone would have said);
    2. a metric is significantly worse (Holm-adjusted p < alpha) by more than its allowed
       degradation (``max_degradation``, default 0) -> keep_champion;
    3. the primary metric is significantly better by at least ``min_improvement`` -> promote;
    4. the interval of the primary improvement lies below ``min_improvement`` -> keep_champion
       (an improvement that large is ruled out);
    5. otherwise -> inconclusive.

    With ``intervals`` (``compare_offline``'s ``adjusted_intervals``: per metric the
    interval that agrees with Holm's decision) the reasons quote those, and rule 4 reads
    them, so the interval a reason shows never contradicts its verdict.
    """
    if primary not in comparison:
        raise ParameterError(
            f"primary metric {primary!r} was not compared",
            parameter="primary_metric",
            valid=list(comparison),
        )
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha!r}", parameter="alpha")
    base = {"primary": primary, "alpha": alpha, "min_improvement": min_improvement}
    shown = {m: _shown(row, (intervals or {}).get(m)) for m, row in comparison.items()}
    stats_only = _statistical_decision(shown, primary, alpha, min_improvement, max_degradation)
    if not challenger_gates_passed:
        return {
            **base,
            "decision": "keep_champion",
            "reason": (
                "the challenger failed its evaluation gates; the comparison alone says "
                f"{stats_only['decision']}: {stats_only['reason']}"
            ),
        }
    return {**base, **stats_only}


def _statistical_decision(
    comparison: Mapping[str, Mapping[str, Any]],
    primary: str,
    alpha: float,
    min_improvement: float,
    max_degradation: Mapping[str, float] | float | None,
) -> dict[str, Any]:
    base: dict[str, Any] = {}
    for m, row in comparison.items():
        allowed = _allowed(max_degradation, m)
        if row["p_adjusted"] < alpha and row["improvement"] < -allowed:
            return {
                "decision": "keep_champion",
                **base,
                "reason": (
                    f"the challenger is significantly worse on {m}: difference "
                    f"{row['difference']:+.4g} ({row['ci_label']} {_ci(row['ci'])}), Holm-adjusted "
                    f"p = {row['p_adjusted']:.3g} < {alpha}"
                    + (f", beyond the allowed degradation {allowed:g}" if allowed else "")
                ),
            }
    row = comparison[primary]
    lo, hi = row["improvement_ci"]
    if row["p_adjusted"] < alpha and row["improvement"] >= min_improvement:
        return {
            "decision": "promote",
            **base,
            "reason": (
                f"the challenger is significantly better on {primary}: difference "
                f"{row['difference']:+.4g} ({row['ci_label']} {_ci(row['ci'])}), Holm-adjusted "
                f"p = {row['p_adjusted']:.3g} < {alpha}, improvement >= {min_improvement:g}, "
                "and no metric is significantly worse"
            ),
        }
    if hi < min_improvement:
        return {
            "decision": "keep_champion",
            **base,
            "reason": (
                f"an improvement of at least {min_improvement:g} on {primary} is ruled out: "
                f"the improvement's interval ({row['ci_label']}) is {_ci([lo, hi])}"
            ),
        }
    why = (
        f"Holm-adjusted p = {row['p_adjusted']:.3g} >= {alpha}"
        if row["p_adjusted"] >= alpha
        else f"the improvement {row['improvement']:+.4g} is below min_improvement "
        f"{min_improvement:g}"
    )
    return {
        "decision": "inconclusive",
        **base,
        "reason": (
            f"no significant difference on {primary}: difference {row['difference']:+.4g} "
            f"({row['ci_label']} {_ci(row['ci'])}), {why}; the champion stays"
        ),
    }


def _shown(row: Mapping[str, Any], adjusted: Mapping[str, Any] | None) -> dict[str, Any]:
    """``row`` with the interval a reason quotes: the adjusted one when there is one."""
    if adjusted is None:
        return {**row, "ci_label": "CI"}
    return {
        **row,
        "ci": adjusted["ci"],
        "improvement_ci": adjusted["improvement_ci"],
        "ci_label": f"{adjusted['label']} CI",
    }


def _allowed(max_degradation: Mapping[str, float] | float | None, metric: str) -> float:
    if max_degradation is None:
        return 0.0
    if isinstance(max_degradation, Mapping):
        return float(max_degradation.get(metric, 0.0))
    return float(max_degradation)


def _ci(ci: Sequence[float | None]) -> str:
    lo, hi = (float("nan") if v is None else v for v in ci)
    return f"[{lo:+.4g}, {hi:+.4g}]"


def no_champion_decision(gates_passed: bool) -> dict[str, Any]:
    """The decision when there is no champion yet: the first model that passes its gates
    becomes the champion."""
    if gates_passed:
        return {
            "decision": "promote",
            "reason": "no champion yet: the model passed its gates and becomes the champion",
        }
    return {
        "decision": "keep_champion",
        "reason": "no champion yet, and the model failed its gates: nothing is promoted",
    }
