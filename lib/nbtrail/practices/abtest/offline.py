"""The whole offline comparison of champion and challenger on the same holdout rows, for
each task, and the decision.

- every task: the paired bootstrap of each metric's difference;
- classifiers (binary and multiclass): McNemar's test on per-row correctness, which tests
  accuracy in place of the bootstrap;
- regression: Wilcoxon's signed-rank test on the paired absolute errors, one more row of
  the comparison (``abs_error``);
- Holm's adjustment across all of them, and beside each the interval that agrees with it
  (``adjusted_intervals``, :mod:`~nbtrail.practices.abtest.simultaneous`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any, Unpack

import numpy as np
import pandas as pd

from nbtrail.core.errors import ParameterError
from nbtrail.practices.abtest.decision import decide
from nbtrail.practices.abtest.paired import (
    difference_rows,
    holm,
    mcnemar_p_at,
    mcnemar_test,
    paired_resampled,
)
from nbtrail.practices.abtest.simultaneous import (
    bootstrap_bounds,
    holm_multipliers,
    inverted_bounds,
    inverted_intervals,
    level_label,
)
from nbtrail.practices.abtest.wilcoxon import (
    abs_error_differences,
    wilcoxon_abs_errors,
    wilcoxon_p_at,
)
from nbtrail.practices.evaluation import (
    BootstrapOptions,
    Resampling,
    correct_rows,
    higher_is_better,
    infer_task,
    metrics_for,
    plain,
)
from nbtrail.practices.tasks import canonical_task

# The primary metric when none is named: threshold-free where the task has one.
PRIMARY: Mapping[str, str] = MappingProxyType(
    {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
)
# (multiplier k, Holm rejected) -> the interval of level 1 - alpha / k.
Bounds = Callable[[int, bool], tuple[float, float]]


def compare_offline(
    y_true: Any,
    score_champion: Any,
    score_challenger: Any,
    *,
    primary: str | None = None,
    alpha: float = 0.05,
    min_improvement: float = 0.0,
    max_degradation: Mapping[str, float] | float | None = None,
    challenger_gates_passed: bool = True,
    **options: Unpack[BootstrapOptions],
) -> dict[str, Any]:
    """The whole paired comparison (see the module docstring) and the decision, as a
    JSON-able dict: ``metrics`` (one row per metric or test, with ``p_adjusted``),
    ``adjusted_intervals`` (per row, the interval that agrees with Holm's decision),
    ``mcnemar`` or ``wilcoxon``, and :func:`decide`'s fields.

    Scores are the positive-class probability (binary), the ``(n, K)`` probabilities of
    ``classes`` (multiclass) or the predictions (regression). ``primary`` defaults to
    ``roc_auc``, ``log_loss`` and ``rmse``; the decision's settings are :func:`decide`'s,
    ``options`` :func:`paired_bootstrap`'s."""
    settings = Resampling.of(options, n_boot=2000)
    task = canonical_task(settings.task) if settings.task else infer_task(y_true)
    defaults, notes = metrics_for(task, y_true if task == "regression" else None)
    metrics = tuple(m for m in (settings.metrics or defaults) if m != "abs_error")
    primary = primary or PRIMARY[task]
    compared = [*metrics, *(["abs_error"] if task == "regression" else [])]
    if primary not in compared:
        raise ParameterError(
            f"primary metric {primary!r} is not among the metrics compared",
            parameter="primary_metric",
            valid=compared,
        )
    settings = replace(settings, task=task, metrics=metrics)
    resampled = paired_resampled(y_true, score_champion, score_challenger, settings)
    rows = difference_rows(resampled, settings)
    bounds: dict[str, Bounds] = {m: _bootstrap(resampled.draws[m], alpha) for m in rows}
    result: dict[str, Any] = {"task": task, "n": len(resampled.y), "notes": notes}
    if task == "regression":
        rows["abs_error"], bounds["abs_error"] = _wilcoxon(
            y_true, score_champion, score_challenger, level=settings.level, alpha=alpha
        )
        result["wilcoxon"] = {
            k: rows["abs_error"][k] for k in ("test", "p_value", "difference", "n_nonzero")
        }
    else:
        ok_a = correct_rows(resampled.y, score_champion, settings.threshold)
        ok_b = correct_rows(resampled.y, score_challenger, settings.threshold)
        mc = mcnemar_test(ok_a, ok_b)
        result["mcnemar"] = mc
        if "accuracy" in rows:
            rows["accuracy"]["p_value"] = mc["p_value"]
            rows["accuracy"]["test"] = f"McNemar ({mc['method']})"
            bounds["accuracy"] = _mcnemar(mc, rows["accuracy"]["difference"], alpha)
    adjusted = holm({m: row["p_value"] for m, row in rows.items()})
    for m, row in rows.items():
        row["p_adjusted"] = adjusted[m]
    result["metrics"] = rows
    result["correction"] = "holm"
    result["adjusted_intervals"] = adjusted_intervals(rows, bounds, alpha)
    result.update(
        decide(
            rows,
            primary=primary,
            alpha=alpha,
            min_improvement=min_improvement,
            max_degradation=max_degradation,
            challenger_gates_passed=challenger_gates_passed,
            intervals=result["adjusted_intervals"],
        )
    )
    return plain(result)


def adjusted_intervals(
    rows: Mapping[str, Mapping[str, Any]], bounds: Mapping[str, Bounds], alpha: float
) -> dict[str, dict[str, Any]]:
    """Per row, the interval of the difference (and of the improvement) at the Holm level
    that agrees with its decision, its level, and whether it excludes 0."""
    out: dict[str, dict[str, Any]] = {}
    for m, (k, rejected) in holm_multipliers(
        {m: row["p_value"] for m, row in rows.items()}, alpha
    ).items():
        lo, hi = bounds[m](k, rejected)
        sign = 1.0 if rows[m]["higher_is_better"] else -1.0
        out[m] = {
            "ci": [lo, hi],
            "improvement_ci": sorted([sign * lo, sign * hi]),
            "level": 1 - alpha / k,
            "k": k,
            "label": level_label(k, alpha, len(rows)),
            "significant": rejected,
            "excludes_zero": bool(lo > 0 or hi < 0),
            "method": _METHOD.get(rows[m]["test"].split(" ")[0], "test inversion"),
        }
    return out


_METHOD = {
    "paired": "percentile interval of the paired bootstrap",
    "McNemar": "McNemar test inverted (accuracy difference)",
    "Wilcoxon": "signed-rank test inverted (shift of the absolute errors)",
}


def _bootstrap(draws: np.ndarray, alpha: float) -> Bounds:
    return lambda k, rejected: bootstrap_bounds(draws, k, alpha)


def _mcnemar(mc: Mapping[str, Any], difference: float, alpha: float) -> Bounds:
    b, c, n = mc["champion_only_correct"], mc["challenger_only_correct"], mc["n"]
    p_at = mcnemar_p_at(b, c, n)
    reach = (b + c) / n if n else 0.0

    def bounds(k: int, rejected: bool) -> tuple[float, float]:
        return inverted_bounds(
            p_at, estimate=difference, null=0.0, null_rejected=rejected, k=k, alpha=alpha,
            low=-reach, high=reach,
        )  # fmt: skip

    return bounds


def _wilcoxon(
    y_true: Any, score_champion: Any, score_challenger: Any, *, level: float, alpha: float
) -> tuple[dict[str, Any], Bounds]:
    """The Wilcoxon row and its adjusted bounds, which also fill in the row's interval at
    ``level`` (both found in one search, once Holm has ranked the row)."""
    row = wilcoxon_abs_errors(y_true, score_champion, score_challenger)
    d = abs_error_differences(y_true, score_champion, score_challenger)
    p_at = wilcoxon_p_at(d)
    low, high = (float(d.min()), float(d.max())) if len(d) else (0.0, 0.0)
    raw = 1 - level
    row.update(ci=None, improvement_ci=None, se=None, effect_size=None, level=level)

    def bounds(k: int, rejected: bool) -> tuple[float, float]:
        plain_ci, adjusted = inverted_intervals(
            p_at, estimate=row["difference"], null=0.0, low=low, high=high,
            levels=[(1, raw, row["p_value"] < raw), (k, alpha, rejected)],
        )  # fmt: skip
        row["ci"] = list(plain_ci)
        row["improvement_ci"] = sorted([-plain_ci[0], -plain_ci[1]])
        return adjusted

    return row, bounds


def comparison_table(result: Mapping[str, Any]) -> pd.DataFrame:
    """One row per metric: champion, challenger, difference with the interval that agrees
    with Holm's decision (``ci_low``/``ci_high``, its level in ``ci_level``), the test,
    p and Holm-adjusted p."""
    adjusted = result.get("adjusted_intervals") or {}
    rows = []
    for m, r in result["metrics"].items():
        a = adjusted.get(m)
        ci = a["ci"] if a else r["ci"]
        rows.append(
            {
                "metric": m,
                "champion": r["champion"],
                "challenger": r["challenger"],
                "difference": r["difference"],
                "ci_low": ci[0],
                "ci_high": ci[1],
                "ci_level": a["label"] if a else f"{r.get('level', 0.95):.4g}",
                "effect_size": r["effect_size"],
                "test": r["test"],
                "p_value": r["p_value"],
                "p_holm": r["p_adjusted"],
                "better_if": "higher" if higher_is_better(m) else "lower",
            }
        )
    return pd.DataFrame(rows).set_index("metric")
