"""The whole offline comparison of champion and challenger on the same holdout rows:
McNemar, the paired bootstrap per metric, Holm across the metrics (accuracy tested by
McNemar's p-value, the others by the bootstrap's), and the decision."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Unpack

import numpy as np
import pandas as pd

from nbtrail.core.errors import ParameterError
from nbtrail.practices.abtest.decision import decide
from nbtrail.practices.abtest.paired import holm, mcnemar_test, paired_differences
from nbtrail.practices.evaluation import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    BootstrapOptions,
    Resampling,
    binary_labels,
    infer_task,
    plain,
)


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
    """The whole paired comparison: McNemar, paired bootstrap per metric, Holm across the
    metrics (accuracy tested by McNemar), and the decision. Returns a JSON-able dict.

    ``primary`` defaults to ``roc_auc`` (classification) or ``rmse`` (regression); the
    decision's settings are :func:`decide`'s, ``options`` :func:`paired_bootstrap`'s."""
    settings = Resampling.of(options, n_boot=2000)
    task = settings.task or infer_task(y_true)
    metrics = tuple(
        settings.metrics
        or (CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS)
    )
    primary = primary or ("roc_auc" if task == "classification" else "rmse")
    if primary not in metrics:
        raise ParameterError(
            f"primary metric {primary!r} is not among the metrics compared",
            parameter="primary_metric",
            valid=list(metrics),
        )
    boot = paired_differences(
        y_true, score_champion, score_challenger, replace(settings, task=task, metrics=metrics)
    )
    result: dict[str, Any] = {"task": task, "n": len(np.asarray(y_true))}
    if task == "classification":
        y = binary_labels(y_true, settings.pos_label)
        pred_a = np.asarray(score_champion, dtype=np.float64) >= settings.threshold
        pred_b = np.asarray(score_challenger, dtype=np.float64) >= settings.threshold
        mc = mcnemar_test(pred_a == (y == 1), pred_b == (y == 1))
        result["mcnemar"] = mc
        if "accuracy" in boot:
            boot["accuracy"]["p_value"] = mc["p_value"]
            boot["accuracy"]["test"] = f"McNemar ({mc['method']})"
    adjusted = holm({m: row["p_value"] for m, row in boot.items()})
    for m, row in boot.items():
        row["p_adjusted"] = adjusted[m]
    result["metrics"] = boot
    result["correction"] = "holm"
    result.update(
        decide(
            boot,
            primary=primary,
            alpha=alpha,
            min_improvement=min_improvement,
            max_degradation=max_degradation,
            challenger_gates_passed=challenger_gates_passed,
        )
    )
    return plain(result)


def comparison_table(result: Mapping[str, Any]) -> pd.DataFrame:
    """One row per metric: champion, challenger, difference with CI, p, Holm-adjusted p."""
    rows = []
    for m, r in result["metrics"].items():
        rows.append(
            {
                "metric": m,
                "champion": r["champion"],
                "challenger": r["challenger"],
                "difference": r["difference"],
                "ci_low": r["ci"][0],
                "ci_high": r["ci"][1],
                "effect_size": r["effect_size"],
                "test": r["test"],
                "p_value": r["p_value"],
                "p_holm": r["p_adjusted"],
                "better_if": "higher" if r["higher_is_better"] else "lower",
            }
        )
    return pd.DataFrame(rows).set_index("metric")
