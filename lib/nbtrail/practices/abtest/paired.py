"""Offline, paired tests (both models scored on the same holdout rows): McNemar's test on
per-row correctness, the paired bootstrap of each metric's difference, Holm's adjustment.

- :func:`mcnemar_test`: with fewer than ``exact_below`` (25) discordant pairs it is the exact
  binomial test (``scipy.stats.binomtest(c, b + c, 0.5)``); otherwise the chi-square test with
  Edwards' continuity correction, ``(|b - c| - 1)^2 / (b + c)`` on 1 d.f. The result says
  which (``method``).
- :func:`paired_bootstrap`: the same resampled rows for both models, the difference
  (challenger minus champion) of each metric with a percentile interval, its bootstrap
  standard error, a standardised effect (difference / SE) and the two-sided percentile
  bootstrap p-value (twice the smaller share of resampled differences on either side of 0,
  so it agrees with the interval).
- :func:`holm`: Holm's step-down adjustment across the metrics compared.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Unpack

import numpy as np
from scipy import stats

from nbtrail.core.errors import DataError
from nbtrail.practices.evaluation import (
    BootstrapOptions,
    Resampled,
    Resampling,
    higher_is_better,
    percentile_interval,
    plain,
    resample_scores,
)


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
    y_true: Any, score_champion: Any, score_challenger: Any, **options: Unpack[BootstrapOptions]
) -> dict[str, dict[str, Any]]:
    """Per metric: champion, challenger, ``difference`` (challenger - champion) with its
    percentile interval, ``improvement`` (the difference signed so positive is better),
    ``se``, ``effect_size`` (difference / se) and a two-sided bootstrap ``p_value``.

    ``options`` as :class:`~nbtrail.practices.evaluation.Resampling` (``metrics``, ``task``,
    ``pos_label=1``, ``threshold=0.5``, ``n_boot=2000``, ``level=0.95``, ``seed=0``,
    ``n_bins=10``, ``min_rows=30``, ``min_class_rows=10``): the holdout must have
    ``min_rows`` rows (and, for classification, ``min_class_rows`` of each class) or a
    :class:`DataError` says it is too small for the intervals."""
    return paired_differences(
        y_true, score_champion, score_challenger, Resampling.of(options, n_boot=2000)
    )


def _difference(champion: np.ndarray, challenger: np.ndarray) -> np.ndarray:
    return challenger - champion


def paired_differences(
    y_true: Any, score_champion: Any, score_challenger: Any, settings: Resampling
) -> dict[str, dict[str, Any]]:
    """:func:`paired_bootstrap` with its settings resolved."""
    return difference_rows(
        paired_resampled(y_true, score_champion, score_challenger, settings), settings
    )


def paired_resampled(
    y_true: Any, score_champion: Any, score_challenger: Any, settings: Resampling
) -> Resampled:
    """Both models' metrics on all rows and the resampled differences (challenger minus
    champion) of each metric, on the same resampled rows."""
    return resample_scores(
        y_true,
        {"champion scores": score_champion, "challenger scores": score_challenger},
        settings,
        combine=_difference,
        context="paired comparison needs the same rows: ",
    )


def difference_rows(resampled: Resampled, settings: Resampling) -> dict[str, dict[str, Any]]:
    """One row per metric of the paired bootstrap (see :func:`paired_bootstrap`)."""
    va, vb = resampled.values
    out: dict[str, dict[str, Any]] = {}
    for m in resampled.metrics:
        d = resampled.draws[m]
        if len(d) < 2:
            raise DataError(
                f"metric {m!r}: fewer than 2 of {settings.n_boot} resamples gave a finite "
                "difference",
                hint="use a larger holdout or drop the metric",
            )
        diff = vb[m] - va[m]
        low, high = percentile_interval(d, settings.level)
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
                "ci": [low, high],
                "improvement": sign * diff,
                "improvement_ci": sorted([sign * low, sign * high]),
                "higher_is_better": higher_is_better(m),
                "se": se,
                "effect_size": diff / se if se > 0 else 0.0,
                "p_value": min(1.0, p),
                "test": "paired bootstrap",
                "n_boot": settings.n_boot,
                "level": settings.level,
            }
        )
    return out


def mcnemar_p_at(
    champion_only: int, challenger_only: int, n: int, *, exact_below: int = 25
) -> Callable[[np.ndarray], np.ndarray]:
    """``deltas -> p``: McNemar's test generalised from "no difference" to an accuracy
    difference ``delta``: given the ``b + c`` discordant rows, ``c`` is binomial with
    ``pi = (1 + delta * n / (b + c)) / 2``; the exact binomial test (fewer than
    ``exact_below`` discordant rows) or the continuity-corrected score test, which at
    ``delta = 0`` is the chi-square statistic :func:`mcnemar_test` reports. Inverting it
    gives the interval of the accuracy difference that agrees with the test."""
    b, c = champion_only, challenger_only
    n_d = b + c

    def one(delta: float) -> float:
        if n_d == 0:
            return 1.0 if delta == 0 else 0.0
        pi = min(1.0, max(0.0, (1 + delta * n / n_d) / 2))
        if n_d < exact_below:
            return float(stats.binomtest(c, n_d, pi).pvalue)
        pi = min(1 - 1e-15, max(1e-15, pi))
        excess = max(abs(c - n_d * pi) - 0.5, 0.0)
        return float(stats.chi2.sf(excess**2 / (n_d * pi * (1 - pi)), df=1))

    def p_at(deltas: np.ndarray) -> np.ndarray:
        return np.array([one(float(x)) for x in np.ravel(deltas)])

    return p_at


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
