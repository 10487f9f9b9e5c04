"""The paired test of two regressors' absolute errors: Wilcoxon's signed-rank test.

On each holdout row, ``d = |challenger error| - |champion error|``; under the null the
``d`` are symmetric about 0 (neither model's errors are systematically smaller). The test
is ``scipy.stats.wilcoxon(d)`` (two-sided, zero differences dropped, exact below 51
non-zero rows, the normal approximation above). Its estimate is the Hodges-Lehmann shift:
the ``theta`` at which the signed-rank statistic of ``d - theta`` balances (the median of
the Walsh averages), found by bisection so it costs O(n log n) on any holdout. Its interval
is the set of shifts the same test does not reject (:func:`wilcoxon_p_at`), so it agrees
with the test by construction.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from nbtrail.core.errors import DataError


def abs_error_differences(y_true: Any, pred_champion: Any, pred_challenger: Any) -> np.ndarray:
    """Per row, the challenger's absolute error minus the champion's."""
    y = np.asarray(y_true, dtype=np.float64)
    a = np.asarray(pred_champion, dtype=np.float64)
    b = np.asarray(pred_challenger, dtype=np.float64)
    if not a.shape == b.shape == y.shape:
        raise DataError(f"{len(a)} champion and {len(b)} challenger predictions for {len(y)} rows")
    return np.abs(b - y) - np.abs(a - y)


def wilcoxon_p_at(d: np.ndarray) -> Callable[[float], float]:
    """``theta -> p``: the two-sided signed-rank p-value of ``d - theta`` (1 when every
    difference is 0)."""

    def p_at(theta: float) -> float:
        shifted = d - theta
        if not np.any(shifted != 0):
            return 1.0
        with warnings.catch_warnings():
            # one non-zero difference: scipy's normal approximation divides 0 by 0
            warnings.simplefilter("ignore", RuntimeWarning)
            p = float(stats.wilcoxon(shifted).pvalue)
        return 1.0 if np.isnan(p) else min(1.0, p)

    return p_at


def hodges_lehmann(d: np.ndarray, *, steps: int = 60) -> float:
    """The shift at which the signed-rank statistic of ``d - shift`` equals its null mean
    (the median of the Walsh averages ``(d_i + d_j) / 2``)."""

    def balance(theta: float) -> float:
        x = d - theta
        x = x[x != 0]
        if not len(x):
            return 0.0
        ranks = stats.rankdata(np.abs(x))
        return float(ranks[x > 0].sum() - len(x) * (len(x) + 1) / 4)

    lo, hi = float(d.min()), float(d.max())
    if lo == hi:
        return lo
    for _ in range(steps):  # balance() falls as the shift rises
        mid = (lo + hi) / 2
        if balance(mid) > 0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * max(1.0, abs(lo), abs(hi)):
            break
    return (lo + hi) / 2


def wilcoxon_abs_errors(y_true: Any, pred_champion: Any, pred_challenger: Any) -> dict[str, Any]:
    """The signed-rank test on the paired absolute errors, as a row of the comparison:
    ``difference`` is the Hodges-Lehmann shift of the absolute errors (challenger minus
    champion; negative = the challenger errs less), ``p_value`` the test's."""
    d = abs_error_differences(y_true, pred_champion, pred_challenger)
    p = wilcoxon_p_at(d)(0.0)
    shift = hodges_lehmann(d) if np.any(d != 0) else 0.0
    return {
        "metric": "abs_error",
        "champion": float(np.abs(np.asarray(pred_champion) - np.asarray(y_true)).mean()),
        "challenger": float(np.abs(np.asarray(pred_challenger) - np.asarray(y_true)).mean()),
        "difference": shift,
        "improvement": -shift,
        "higher_is_better": False,
        "p_value": p,
        "test": "Wilcoxon signed-rank (absolute errors; difference = Hodges-Lehmann shift)",
        "n_nonzero": int(np.count_nonzero(d)),
    }
