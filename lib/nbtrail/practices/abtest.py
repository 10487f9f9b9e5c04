"""Champion versus challenger: paired offline tests and a simulated online experiment.

Every public function returns plain JSON-able dicts (ready for ``run.save_json`` and the run
record); display helpers turn them into DataFrames.

Offline, paired (both models scored on the same holdout rows):

- :func:`mcnemar_test` on per-row correctness. With fewer than ``exact_below`` (25) discordant
  pairs it is the exact binomial test (``scipy.stats.binomtest(c, b + c, 0.5)``); otherwise the
  chi-square test with Edwards' continuity correction, ``(|b - c| - 1)^2 / (b + c)`` on 1 d.f.
  The result says which (``method``).
- :func:`paired_bootstrap`: the same resampled rows for both models, the difference
  (challenger minus champion) of each metric with a percentile interval, its bootstrap
  standard error, a standardised effect (difference / SE) and the two-sided percentile
  bootstrap p-value (twice the smaller share of resampled differences on either side of 0,
  so it agrees with the interval).
- :func:`holm`: Holm's step-down adjustment across the metrics compared (accuracy uses
  McNemar's p-value, the others the bootstrap p-value).
- :func:`decide`: promote / keep_champion / inconclusive, with the reason.

Online, simulated:

- :func:`assign_arms`: sticky assignment; ``sha256(salt + id)`` mapped to [0, 1) and compared
  with the configured split, so one id always gets one arm, in any process.
- :func:`sample_size_two_proportions` / :func:`power_two_proportions`: the normal-approximation
  (pooled-variance null, unpooled alternative; Fleiss, without continuity correction) sample
  size for a two-sided test of two proportions.
- :func:`group_sequential_design`: **the sequential test chosen** is a two-sided group-sequential
  design with Lan-DeMets alpha spending, O'Brien-Fleming type by default
  (``alpha(t) = 2 - 2 Phi(z_{alpha/2} / sqrt(t))``; ``"pocock"`` is
  ``alpha ln(1 + (e - 1) t)``). Boundaries are found by recursive numerical integration of the
  score process (Armitage, McPherson and Rowe; Jennison and Turnbull ch. 19) on a Simpson grid,
  so the type I error over all looks is alpha, looks may fall at any information fractions, and
  the maximum sample size follows from the fixed-sample size times the design's inflation
  factor. Chosen over a mixture SPRT because it gives a planned maximum sample size and power,
  which the experiment plan must state before it starts.
- :func:`run_online_experiment`: assign ids, draw outcomes per arm, look at the planned
  fractions with the pooled two-proportion z statistic, stop at the first boundary crossing,
  and report repeated confidence intervals (valid at whichever look the experiment stopped).
- :func:`simulate_sequential`: many experiments at once (vectorised), for A/A and power checks.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from nbtrail.core.errors import DataError, ParameterError
from nbtrail.practices.evaluation import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    binary_labels,
    bootstrap_draws,
    check_interval_request,
    higher_is_better,
    infer_task,
    metric_weighted,
    plain,
    point_metrics,
    prepare_target,
    scores_for,
)

DECISIONS: tuple[str, ...] = ("promote", "keep_champion", "inconclusive")
ARMS: tuple[str, str] = ("champion", "challenger")

# --------------------------------------------------------------------------- schemas


def model_input_schema(model: Any) -> list[str] | int | None:
    """The input columns a fitted scikit-learn model expects (or their count, or None)."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    n = getattr(model, "n_features_in_", None)
    return int(n) if n is not None else None


def check_same_schema(
    champion: Sequence[str] | int | None, challenger: Sequence[str] | int | None
) -> None:
    """Raise :class:`DataError` naming the difference when the two input schemas differ."""
    if champion is None or challenger is None:
        return
    if isinstance(champion, int) or isinstance(challenger, int):
        n_a = champion if isinstance(champion, int) else len(champion)
        n_b = challenger if isinstance(challenger, int) else len(challenger)
        if n_a != n_b:
            raise DataError(
                f"input schema mismatch: the champion takes {n_a} columns, the challenger {n_b}",
                champion=n_a,
                challenger=n_b,
            )
        return
    a, b = list(champion), list(challenger)
    if a == b:
        return
    only_a = [c for c in a if c not in set(b)]
    only_b = [c for c in b if c not in set(a)]
    parts = []
    if only_a:
        parts.append(f"only the champion takes {_names(only_a)}")
    if only_b:
        parts.append(f"only the challenger takes {_names(only_b)}")
    if not parts:
        parts.append("same columns in a different order")
    raise DataError(
        "input schema mismatch between champion and challenger: " + "; ".join(parts),
        hint="retrain the challenger on the champion's features, or compare like with like",
        only_champion=only_a,
        only_challenger=only_b,
    )


def _names(cols: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(map(repr, cols[:limit]))
    return shown + (f" and {len(cols) - limit} more" if len(cols) > limit else "")


# --------------------------------------------------------------------------- offline, paired


def mcnemar_test(
    correct_champion: Any, correct_challenger: Any, *, exact_below: int = 25
) -> dict[str, Any]:
    """McNemar's test on paired per-row correctness (see the module docstring for the method).

    ``b``: rows only the champion gets right; ``c``: rows only the challenger gets right.
    Effect sizes: the accuracy difference ``(c - b) / n`` and the conditional odds ratio
    ``c / b`` with its exact (Clopper-Pearson based) interval."""
    a = np.asarray(correct_champion, dtype=bool)
    z = np.asarray(correct_challenger, dtype=bool)
    if a.shape != z.shape:
        raise DataError(f"{len(a)} champion rows but {len(z)} challenger rows")
    b = int((a & ~z).sum())
    c = int((~a & z).sum())
    n_d = b + c
    if n_d == 0:
        method, statistic, p = "none (no discordant pairs)", 0.0, 1.0
        or_low, or_high = 0.0, math.inf
    else:
        bt = stats.binomtest(c, n_d, 0.5)
        ci = bt.proportion_ci(confidence_level=0.95, method="exact")
        or_low = ci.low / (1 - ci.low) if ci.low < 1 else math.inf
        or_high = ci.high / (1 - ci.high) if ci.high < 1 else math.inf
        if n_d < exact_below:
            method, statistic, p = "exact binomial", float(c), float(bt.pvalue)
        else:
            method = "chi-square with continuity correction"
            statistic = (abs(b - c) - 1) ** 2 / n_d
            p = float(stats.chi2.sf(statistic, df=1))
    odds = (c / b) if b else (math.inf if c else float("nan"))
    return plain(
        {
            "test": "mcnemar",
            "method": method,
            "n": int(len(a)),
            "champion_only_correct": b,
            "challenger_only_correct": c,
            "statistic": statistic,
            "p_value": p,
            "accuracy_difference": (c - b) / len(a) if len(a) else float("nan"),
            "odds_ratio": odds,
            "odds_ratio_ci": [or_low, or_high],
        }
    )


def paired_bootstrap(
    y_true: Any,
    score_champion: Any,
    score_challenger: Any,
    *,
    metrics: Sequence[str] | None = None,
    task: str | None = None,
    pos_label: Any = 1,
    threshold: float = 0.5,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    n_bins: int = 10,
    min_rows: int = 30,
    min_class_rows: int = 10,
) -> dict[str, dict[str, Any]]:
    """Per metric: champion, challenger, ``difference`` (challenger - champion) with its
    percentile interval, ``improvement`` (the difference signed so positive is better),
    ``se``, ``effect_size`` (difference / se) and a two-sided bootstrap ``p_value``.

    The holdout must have ``min_rows`` rows (and, for classification, ``min_class_rows`` of
    each class) or a :class:`DataError` says it is too small for the intervals."""
    task, y, metrics = prepare_target(y_true, task, metrics, pos_label)
    same = "paired comparison needs the same rows: "
    sa = scores_for(y, score_champion, what="champion scores", context=same)
    sb = scores_for(y, score_challenger, what="challenger scores", context=same)
    check_interval_request(
        len(y),
        n_boot=n_boot,
        level=level,
        min_rows=min_rows,
        y=y if task == "classification" else None,
        min_class_rows=min_class_rows if task == "classification" else 0,
    )
    va = point_metrics(y, sa, metrics, threshold=threshold, n_bins=n_bins)
    vb = point_metrics(y, sb, metrics, threshold=threshold, n_bins=n_bins)
    diffs = bootstrap_draws(
        len(y),
        metrics,
        lambda m, w: (
            metric_weighted(m, y, sb, w, threshold=threshold, n_bins=n_bins)
            - metric_weighted(m, y, sa, w, threshold=threshold, n_bins=n_bins)
        ),
        n_boot=n_boot,
        seed=seed,
    )
    alpha = 1 - level
    out: dict[str, dict[str, Any]] = {}
    for m in metrics:
        d = diffs[m]
        if len(d) < 2:
            raise DataError(
                f"metric {m!r}: fewer than 2 of {n_boot} resamples gave a finite difference",
                hint="use a larger holdout or drop the metric",
            )
        diff = vb[m] - va[m]
        low, high = np.quantile(d, [alpha / 2, 1 - alpha / 2])
        se = float(d.std(ddof=1))
        # Percentile-bootstrap p-value: twice the smaller share of resampled differences on
        # either side of 0, so p < 1 - level exactly when the percentile interval excludes 0.
        below = (1 + int((d <= 0).sum())) / (len(d) + 1)
        above = (1 + int((d >= 0).sum())) / (len(d) + 1)
        p = min(1.0, 2 * min(below, above))
        sign = 1.0 if higher_is_better(m) else -1.0
        out[m] = plain(
            {
                "metric": m,
                "champion": va[m],
                "challenger": vb[m],
                "difference": diff,
                "ci": [float(low), float(high)],
                "improvement": sign * diff,
                "improvement_ci": sorted([sign * float(low), sign * float(high)]),
                "higher_is_better": higher_is_better(m),
                "se": se,
                "effect_size": diff / se if se > 0 else 0.0,
                "p_value": min(1.0, p),
                "test": "paired bootstrap",
                "n_boot": n_boot,
                "level": level,
            }
        )
    return out


def holm(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm's step-down adjusted p-values (family-wise error control)."""
    keys = list(p_values)
    p = np.array([float(p_values[k]) for k in keys])
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return {k: float(adjusted[j]) for j, k in enumerate(keys)}


def decide(
    comparison: Mapping[str, Mapping[str, Any]],
    *,
    primary: str,
    alpha: float = 0.05,
    min_improvement: float = 0.0,
    max_degradation: Mapping[str, float] | float | None = None,
    challenger_gates_passed: bool = True,
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
    stats_only = _statistical_decision(comparison, primary, alpha, min_improvement, max_degradation)
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
                    f"{row['difference']:+.4g} (CI {_ci(row['ci'])}), Holm-adjusted "
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
                f"{row['difference']:+.4g} (CI {_ci(row['ci'])}), Holm-adjusted "
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
                f"the improvement's interval is {_ci([lo, hi])}"
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
            f"(CI {_ci(row['ci'])}), {why}; the champion stays"
        ),
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


def compare_offline(
    y_true: Any,
    score_champion: Any,
    score_challenger: Any,
    *,
    primary: str | None = None,
    metrics: Sequence[str] | None = None,
    task: str | None = None,
    pos_label: Any = 1,
    threshold: float = 0.5,
    alpha: float = 0.05,
    min_improvement: float = 0.0,
    max_degradation: Mapping[str, float] | float | None = None,
    challenger_gates_passed: bool = True,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    min_rows: int = 30,
) -> dict[str, Any]:
    """The whole paired comparison: McNemar, paired bootstrap per metric, Holm across the
    metrics (accuracy tested by McNemar), and the decision. Returns a JSON-able dict."""
    task = task or infer_task(y_true)
    metrics = tuple(
        metrics or (CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS)
    )
    primary = primary or ("roc_auc" if task == "classification" else "rmse")
    if primary not in metrics:
        raise ParameterError(
            f"primary metric {primary!r} is not among the metrics compared",
            parameter="primary_metric",
            valid=list(metrics),
        )
    boot = paired_bootstrap(
        y_true,
        score_champion,
        score_challenger,
        metrics=metrics,
        task=task,
        pos_label=pos_label,
        threshold=threshold,
        n_boot=n_boot,
        level=level,
        seed=seed,
        min_rows=min_rows,
    )
    result: dict[str, Any] = {"task": task, "n": len(np.asarray(y_true))}
    if task == "classification":
        y = binary_labels(y_true, pos_label)
        pred_a = np.asarray(score_champion, dtype=np.float64) >= threshold
        pred_b = np.asarray(score_challenger, dtype=np.float64) >= threshold
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


def effect_plot(result: Mapping[str, Any], ax: Any = None) -> Any:
    """Improvement (positive = challenger better) with its interval, per metric."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 1.0 + 0.45 * len(result["metrics"])))
    names = list(result["metrics"])
    imp = [result["metrics"][m]["improvement"] for m in names]
    lo = [result["metrics"][m]["improvement_ci"][0] for m in names]
    hi = [result["metrics"][m]["improvement_ci"][1] for m in names]
    ypos = np.arange(len(names))
    colors = [
        "tab:green"
        if result["metrics"][m]["p_adjusted"] < result.get("alpha", 0.05)
        and result["metrics"][m]["improvement"] > 0
        else "tab:red"
        if result["metrics"][m]["p_adjusted"] < result.get("alpha", 0.05)
        else "tab:gray"
        for m in names
    ]
    for i, color in enumerate(colors):  # errorbar takes one colour per call
        ax.errorbar(
            imp[i],
            ypos[i],
            xerr=[[imp[i] - lo[i]], [hi[i] - imp[i]]],
            fmt="none",
            ecolor=color,
            capsize=3,
        )
    ax.scatter(imp, ypos, c=colors, zorder=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(ypos, names)
    ax.invert_yaxis()
    level = result["metrics"][names[0]].get("level", 0.95) if names else 0.95
    ax.set_xlabel(f"challenger minus champion, signed so positive = better ({level:.0%} CI)")
    ax.set_title(
        f"decision: {result.get('decision', '?')}  (coloured: Holm-adjusted p < alpha)", fontsize=10
    )
    ax.figure.tight_layout()
    return ax


# --------------------------------------------------------------------------- assignment


def assign_arms(
    ids: Iterable[Any], *, salt: str, split: float = 0.5, arms: Sequence[str] = ARMS
) -> np.ndarray:
    """Sticky arm per id: ``sha256(salt + "\\x1f" + str(id))`` as a number in [0, 1); ids
    below ``1 - split`` get ``arms[0]`` (the champion), the rest ``arms[1]``. ``split`` is the
    share of traffic sent to the challenger."""
    if not 0 < split < 1:
        raise ParameterError(f"split must be in (0, 1), got {split!r}", parameter="split")
    if not salt:
        raise ParameterError("an experiment salt is required", parameter="salt")
    u = np.fromiter((_unit(salt, i) for i in ids), dtype=np.float64)
    return np.where(u < 1 - split, arms[0], arms[1])


def _unit(salt: str, entity: Any) -> float:
    digest = hashlib.sha256(f"{salt}\x1f{entity}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


# --------------------------------------------------------------------------- planning


def _check_proportions(p_control: float, p_treatment: float) -> None:
    for name, p in (("p_control", p_control), ("p_treatment", p_treatment)):
        if not 0 < p < 1:
            raise ParameterError(f"{name} must be in (0, 1), got {p!r}", parameter=name)
    if p_control == p_treatment:
        raise ParameterError(
            "p_control and p_treatment are equal: no effect to detect", parameter="mde"
        )


def sample_size_two_proportions(
    p_control: float,
    p_treatment: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
) -> dict[str, int]:
    """Per-arm sizes for a two-sided two-proportion z test; ``ratio`` = n_treatment / n_control.

    ``n_c = (z_{1-a/2} sqrt(pbar qbar (1 + 1/r)) + z_{1-b} sqrt(p_c q_c + p_t q_t / r))^2 /
    (p_t - p_c)^2``, with ``pbar = (p_c + r p_t) / (1 + r)``."""
    _check_proportions(p_control, p_treatment)
    za = stats.norm.isf(alpha / 2)
    zb = stats.norm.ppf(power)
    pbar = (p_control + ratio * p_treatment) / (1 + ratio)
    null_sd = math.sqrt(pbar * (1 - pbar) * (1 + 1 / ratio))
    alt_sd = math.sqrt(p_control * (1 - p_control) + p_treatment * (1 - p_treatment) / ratio)
    n_c = (za * null_sd + zb * alt_sd) ** 2 / (p_treatment - p_control) ** 2
    n_c_int = math.ceil(n_c - 1e-9)
    return {"control": n_c_int, "treatment": math.ceil(n_c_int * ratio - 1e-9)}


def power_two_proportions(
    p_control: float,
    p_treatment: float,
    n_control: float,
    *,
    alpha: float = 0.05,
    ratio: float = 1.0,
) -> float:
    """Power of the two-sided two-proportion z test (the far tail neglected, as in the
    sample-size formula)."""
    _check_proportions(p_control, p_treatment)
    za = stats.norm.isf(alpha / 2)
    pbar = (p_control + ratio * p_treatment) / (1 + ratio)
    null_sd = math.sqrt(pbar * (1 - pbar) * (1 + 1 / ratio))
    alt_sd = math.sqrt(p_control * (1 - p_control) + p_treatment * (1 - p_treatment) / ratio)
    delta = abs(p_treatment - p_control)
    return float(stats.norm.cdf((delta * math.sqrt(n_control) - za * null_sd) / alt_sd))


# --------------------------------------------------------------------------- group-sequential


def spending(t: np.ndarray | float, alpha: float, kind: str = "obrien_fleming") -> np.ndarray:
    """Cumulative two-sided alpha spent by information fraction ``t`` (Lan-DeMets)."""
    t = np.clip(np.asarray(t, dtype=np.float64), 1e-12, 1.0)
    if kind == "obrien_fleming":
        # 2 * sf, not 2 - 2 * cdf: early looks spend ~1e-18, which 1 - cdf rounds to 0.
        return 2 * stats.norm.sf(stats.norm.isf(alpha / 2) / np.sqrt(t))
    if kind == "pocock":
        return alpha * np.log1p((math.e - 1) * t)
    raise ParameterError(
        f"unknown spending function {kind!r}",
        parameter="spending",
        valid=["obrien_fleming", "pocock"],
    )


_GRID = 401  # odd, for Simpson's rule
_MAX_Z = 40.0
_SQRT_2PI = math.sqrt(2 * math.pi)


def _simpson_weights(n: int, h: float) -> np.ndarray:
    w = np.ones(n)
    w[1:-1:2] = 4
    w[2:-1:2] = 2
    return w * h / 3


def _step(
    state: tuple[np.ndarray, np.ndarray] | None, t_prev: float, t: float, c: float, drift: float
) -> float:
    """Probability of first crossing ``|Z| >= c`` at information ``t`` given the sub-density
    ``state = (grid, density)`` of the score S at ``t_prev`` on the continuation region."""
    dt = t - t_prev
    b, sd = c * math.sqrt(t), math.sqrt(dt)
    if state is None:
        m = drift * t
        return float(stats.norm.sf((b - m) / sd) + stats.norm.cdf((-b - m) / sd))
    grid, dens = state
    w = _simpson_weights(len(grid), grid[1] - grid[0]) * dens
    mu = grid + drift * dt
    return float(w @ (stats.norm.sf((b - mu) / sd) + stats.norm.cdf((-b - mu) / sd)))


def _advance(
    state: tuple[np.ndarray, np.ndarray] | None, t_prev: float, t: float, c: float, drift: float
) -> tuple[np.ndarray, np.ndarray]:
    """The sub-density of S at ``t`` on ``|S| < c sqrt(t)`` (paths not stopped so far)."""
    dt = t - t_prev
    b, sd = c * math.sqrt(t), math.sqrt(dt)
    # S_t ~ N(drift t, t) before stopping: beyond 12 sd of it the density is nil, so a wide
    # continuation region (a huge early bound) does not spread the grid thin.
    lo, hi = max(-b, drift * t - 12 * math.sqrt(t)), min(b, drift * t + 12 * math.sqrt(t))
    grid = np.linspace(lo, hi, _GRID) if lo < hi else np.linspace(-b, b, _GRID)
    if state is None:
        return grid, np.exp(-0.5 * ((grid - drift * t) / sd) ** 2) / (sd * _SQRT_2PI)
    old, dens = state
    w = _simpson_weights(len(old), old[1] - old[0]) * dens
    mu = old + drift * dt
    kern = np.exp(-0.5 * ((grid[:, None] - mu[None, :]) / sd) ** 2) / (sd * _SQRT_2PI)
    return grid, kern @ w


def _recursion(fractions: np.ndarray, bounds: np.ndarray, drift: float) -> np.ndarray:
    """Probability of first crossing ``|Z_k| >= bounds[k]`` at each look, for the score
    process with the given drift (Z_k = S_k / sqrt(t_k), S a Brownian motion with drift;
    Armitage-McPherson-Rowe recursive integration)."""
    exits = np.zeros(len(fractions))
    state, t_prev = None, 0.0
    for k, (t, c) in enumerate(zip(fractions, bounds, strict=True)):
        exits[k] = _step(state, t_prev, t, c, drift)
        state, t_prev = _advance(state, t_prev, t, c, drift), t
    return exits


def group_sequential_design(
    looks: int | Sequence[float] = 5,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    spending_function: str = "obrien_fleming",
) -> dict[str, Any]:
    """Two-sided Lan-DeMets group-sequential boundaries at the given looks.

    ``looks``: a number of equally spaced looks, or the information fractions (increasing,
    ending at 1). Returns the z boundaries, the alpha spent per look, the nominal two-sided
    p-value threshold per look, and ``inflation``: max sample size / fixed sample size for
    the same power."""
    fractions = _fractions(looks)
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha!r}", parameter="alpha")
    if not 0 < power < 1:
        raise ParameterError(f"power must be in (0, 1), got {power!r}", parameter="power")
    cumulative = spending(fractions, alpha, spending_function)
    cumulative[-1] = alpha
    increments = np.diff(np.concatenate([[0.0], cumulative]))
    bounds = np.zeros(len(fractions))
    state, t_prev = None, 0.0
    for k, t in enumerate(fractions):
        target = increments[k]
        if state is None:
            bounds[k] = stats.norm.isf(target / 2)
        else:

            def excess(c: float, s=state, tp=t_prev, t=t, a=target) -> float:
                return _step(s, tp, t, c, 0.0) - a

            # A look that spends (next to) nothing gets the largest bound: no early stop.
            bounds[k] = (
                _MAX_Z if excess(_MAX_Z) >= 0 else optimize.brentq(excess, 0.1, _MAX_Z, xtol=1e-10)
            )
        state, t_prev = _advance(state, t_prev, t, bounds[k], 0.0), t
    fixed = stats.norm.isf(alpha / 2) + stats.norm.ppf(power)
    drift = optimize.brentq(
        lambda d: _recursion(fractions, bounds, d).sum() - power,
        fixed * 0.5,
        fixed * 2,
        xtol=1e-10,
    )
    return plain(
        {
            "method": f"group sequential, Lan-DeMets {spending_function} alpha spending",
            "alpha": alpha,
            "power": power,
            "fractions": fractions,
            "z_bounds": bounds,
            "alpha_spent": increments,
            "nominal_p": 2 * stats.norm.sf(bounds),
            "inflation": (drift / fixed) ** 2,
            "spending": spending_function,
        }
    )


def _fractions(looks: int | Sequence[float]) -> np.ndarray:
    if isinstance(looks, bool):
        raise ParameterError(
            f"looks must be a count or fractions, got {looks!r}", parameter="looks"
        )
    if isinstance(looks, (int, np.integer)):
        if looks < 1:
            raise ParameterError(f"looks must be >= 1, got {looks}", parameter="looks")
        return np.arange(1, looks + 1) / looks
    fr = np.asarray(list(looks), dtype=np.float64)
    if len(fr) < 1 or np.any(np.diff(fr) <= 0) or fr[0] <= 0 or abs(fr[-1] - 1) > 1e-9:
        raise ParameterError(
            f"looks must be increasing information fractions ending at 1, got {list(fr)}",
            parameter="looks",
        )
    return fr


def plan_experiment(
    p_control: float,
    mde: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    split: float = 0.5,
    looks: int | Sequence[float] = 5,
    spending_function: str = "obrien_fleming",
) -> dict[str, Any]:
    """The plan before the experiment: fixed-sample sizes per arm for detecting an absolute
    change ``mde`` from ``p_control``, the sequential design, and its maximum sizes."""
    if not 0 < split < 1:
        raise ParameterError(f"split must be in (0, 1), got {split!r}", parameter="split")
    p_treatment = p_control + mde
    ratio = split / (1 - split)
    fixed = sample_size_two_proportions(
        p_control, p_treatment, alpha=alpha, power=power, ratio=ratio
    )
    design = group_sequential_design(
        looks, alpha=alpha, power=power, spending_function=spending_function
    )
    n_c = math.ceil(fixed["control"] * design["inflation"])
    n_t = math.ceil(n_c * ratio - 1e-9)
    return plain(
        {
            "p_control": p_control,
            "p_treatment": p_treatment,
            "mde": mde,
            "alpha": alpha,
            "power": power,
            "split": split,
            "fixed_n": fixed,
            "max_n": {"control": n_c, "treatment": n_t},
            "total_max_n": n_c + n_t,
            "design": design,
        }
    )


def _z_pooled(x_a: np.ndarray, n_a: np.ndarray, x_b: np.ndarray, n_b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        pa, pb = x_a / n_a, x_b / n_b
        pool = (x_a + x_b) / (n_a + n_b)
        se = np.sqrt(pool * (1 - pool) * (1 / n_a + 1 / n_b))
        z = (pb - pa) / se
    return np.where(se > 0, z, 0.0)


def simulate_sequential(
    p_control: float,
    p_treatment: float,
    n_control: int,
    n_treatment: int,
    design: Mapping[str, Any] | Sequence[float],
    *,
    n_sims: int = 2000,
    seed: int = 0,
    fractions: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Simulate ``n_sims`` experiments (vectorised) with looks at the design's fractions of
    the maximum sizes; reject at the first look where ``|z| >= bound``.

    ``design`` is a :func:`group_sequential_design` result or just the z bounds (with
    ``fractions``, default equally spaced)."""
    if isinstance(design, Mapping):
        bounds = np.asarray(design["z_bounds"], dtype=np.float64)
        fr = np.asarray(design["fractions"], dtype=np.float64)
    else:
        bounds = np.asarray(design, dtype=np.float64)
        fr = _fractions(list(fractions) if fractions is not None else len(bounds))
    rng = np.random.default_rng(seed)
    na = np.round(fr * n_control).astype(np.int64)
    nb = np.round(fr * n_treatment).astype(np.int64)
    xa = rng.binomial(np.diff(np.concatenate([[0], na])), p_control, size=(n_sims, len(fr)))
    xb = rng.binomial(np.diff(np.concatenate([[0], nb])), p_treatment, size=(n_sims, len(fr)))
    z = _z_pooled(xa.cumsum(1), na[None, :], xb.cumsum(1), nb[None, :])
    crossed = np.abs(z) >= bounds[None, :]
    rejected = crossed.any(axis=1)
    first = np.where(rejected, crossed.argmax(axis=1), len(fr) - 1)
    z_at_stop = z[np.arange(n_sims), first]
    return plain(
        {
            "n_sims": n_sims,
            "rejection_rate": float(rejected.mean()),
            "rejection_rate_treatment_better": float((rejected & (z_at_stop > 0)).mean()),
            "mean_stop_look": float(first.mean() + 1),
            "expected_n": float((na[first] + nb[first]).mean()),
            "rejection_by_look": np.bincount(first[rejected], minlength=len(fr)) / n_sims,
        }
    )


def run_online_experiment(
    ids: Sequence[Any],
    *,
    salt: str,
    split: float,
    p_control: float,
    p_treatment: float,
    design: Mapping[str, Any],
    seed: int = 0,
    row_outcomes: tuple[Any, Any] | None = None,
) -> dict[str, Any]:
    """A simulated live experiment: ``ids`` arrive in order, each sticky-assigned to an arm
    (champion = control, challenger = treatment) and given an outcome drawn with its arm's
    true rate. Looks happen when the design's fractions of ``ids`` have arrived; the
    experiment stops at the first crossing. Repeated confidence intervals (difference
    ± bound × SE, valid under the repeated looks) are reported per look.

    With ``row_outcomes = (champion_ok, challenger_ok)`` (per-row 0/1 outcomes of both
    models on the same rows, e.g. correctness on the holdout), each entity instead draws
    one row and gets its arm's outcome on that row; the true rates are then the means."""
    ids = list(ids)
    if len(set(map(str, ids))) != len(ids):
        raise DataError("experiment ids must be unique entities")
    arms = assign_arms(ids, salt=salt, split=split)
    rng = np.random.default_rng(seed)
    treated = arms == ARMS[1]
    if row_outcomes is None:
        outcome = rng.random(len(ids)) < np.where(treated, p_treatment, p_control)
    else:
        ok_a = np.asarray(row_outcomes[0], dtype=bool)
        ok_b = np.asarray(row_outcomes[1], dtype=bool)
        if ok_a.shape != ok_b.shape or ok_a.size == 0:
            raise DataError("row_outcomes must be two equally long, non-empty arrays")
        rows = rng.integers(0, len(ok_a), len(ids))
        outcome = np.where(treated, ok_b[rows], ok_a[rows])
        p_control, p_treatment = float(ok_a.mean()), float(ok_b.mean())
    fractions = np.asarray(design["fractions"], dtype=np.float64)
    bounds = np.asarray(design["z_bounds"], dtype=np.float64)
    looks: list[dict[str, Any]] = []
    decision, stopped = "inconclusive", None
    for k, (f, c) in enumerate(zip(fractions, bounds, strict=True)):
        n = int(round(f * len(ids)))
        t, o = treated[:n], outcome[:n]
        n_b, n_a = int(t.sum()), int((~t).sum())
        x_b, x_a = int(o[t].sum()), int(o[~t].sum())
        if min(n_a, n_b) == 0:
            raise DataError(f"look {k + 1}: an arm has no entities yet ({n} ids so far)")
        z = float(_z_pooled(np.array(x_a), np.array(n_a), np.array(x_b), np.array(n_b)))
        pa, pb = x_a / n_a, x_b / n_b
        se = math.sqrt(pa * (1 - pa) / n_a + pb * (1 - pb) / n_b)
        looks.append(
            {
                "look": k + 1,
                "fraction": float(f),
                "n_champion": n_a,
                "n_challenger": n_b,
                "rate_champion": pa,
                "rate_challenger": pb,
                "difference": pb - pa,
                "z": z,
                "bound": float(c),
                "rci": [pb - pa - c * se, pb - pa + c * se],
                "crossed": bool(abs(z) >= c),
            }
        )
        if abs(z) >= c:
            stopped = k + 1
            decision = "promote" if z > 0 else "keep_champion"
            break
    last = looks[-1]
    pa, pb = last["rate_champion"], last["rate_challenger"]
    reason = (
        f"stopped at look {stopped}: |z| = {abs(last['z']):.3f} >= {last['bound']:.3f}; the "
        f"challenger's rate is {'higher' if last['z'] > 0 else 'lower'}"
        if stopped
        else f"no boundary crossed in {len(looks)} looks (final |z| = {abs(last['z']):.3f} < "
        f"{last['bound']:.3f}); no significant difference"
    )
    return plain(
        {
            "method": design.get("method"),
            "salt": salt,
            "split": split,
            "n_ids": len(ids),
            "observed_split": float(treated.mean()),
            "true_rates": {"champion": p_control, "challenger": p_treatment},
            "looks": looks,
            "stopped_at_look": stopped,
            "decision": decision,
            "reason": reason,
            "effect": {
                "difference": pb - pa,
                "relative_lift": (pb - pa) / pa if pa > 0 else None,
                "cohens_h": 2 * math.asin(math.sqrt(pb)) - 2 * math.asin(math.sqrt(pa)),
                "rci": last["rci"],
            },
        }
    )


def looks_table(result: Mapping[str, Any]) -> pd.DataFrame:
    rows = [
        {
            **{k: v for k, v in look.items() if k != "rci"},
            "rci_low": look["rci"][0],
            "rci_high": look["rci"][1],
        }
        for look in result["looks"]
    ]
    return pd.DataFrame(rows).set_index("look")


# --------------------------------------------------------------------------- one-line reports


def mcnemar_line(m: Mapping[str, Any]) -> str:
    """McNemar's result in one line: the discordant counts and the p-value."""
    return (
        f"McNemar ({m['method']}): champion-only correct {m['champion_only_correct']}, "
        f"challenger-only correct {m['challenger_only_correct']}, p = {m['p_value']:.4g}"
    )


def plan_line(plan: Mapping[str, Any]) -> str:
    """An online experiment's plan in one line: sizes, inflation and boundaries."""
    design = plan["design"]
    return (
        f"plan: fixed-sample n per arm {plan['fixed_n']}, sequential max n {plan['max_n']} "
        f"(inflation {design['inflation']:.3f}); boundaries "
        f"{[round(b, 3) for b in design['z_bounds']]}"
    )
