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


def wilcoxon_p_at(d: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """``thetas -> p``: the two-sided signed-rank p-value of ``d - theta`` for each
    ``theta`` (one vectorised ``scipy.stats.wilcoxon`` call; 1 where every difference
    is 0)."""

    def p_at(thetas: np.ndarray) -> np.ndarray:
        shifted = d[None, :] - np.asarray(thetas, dtype=np.float64).reshape(-1, 1)
        empty = ~np.any(shifted != 0, axis=1)
        with warnings.catch_warnings():
            # one non-zero difference: scipy's normal approximation divides 0 by 0
            warnings.simplefilter("ignore", RuntimeWarning)
            p = np.asarray(stats.wilcoxon(shifted, axis=1).pvalue, dtype=np.float64)
        return np.where(empty | np.isnan(p), 1.0, np.minimum(1.0, p))

    return p_at


def _balance(d: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """The signed-rank statistic of ``d - shift`` minus its null mean, per shift (zero
    differences dropped, ties given their average rank)."""
    x = d[None, :] - shifts[:, None]
    ranks = stats.rankdata(np.where(x == 0, np.nan, np.abs(x)), axis=1, nan_policy="omit")
    nonzero = (x != 0).sum(axis=1)
    return np.where(x > 0, ranks, 0).sum(axis=1) - nonzero * (nonzero + 1) / 4


def _first_shift(d: np.ndarray, falls: Callable[[np.ndarray], np.ndarray], tol: float) -> float:
    """The smallest shift in ``[min d, max d]`` where ``falls(balance)`` holds (it holds
    from some shift on), to within ``tol``: 64 shifts a round."""
    lo, hi = float(d.min()), float(d.max())
    while hi - lo > tol:
        grid = np.linspace(lo, hi, 66)
        hold = falls(_balance(d, grid))
        first = int(np.argmax(hold)) if hold.any() else len(grid) - 1
        new = (float(grid[max(first - 1, 0)]), float(grid[first]))
        if new == (lo, hi):
            break
        lo, hi = new
    return hi


def hodges_lehmann(d: np.ndarray, *, rel_tol: float = 1e-10) -> float:
    """The Hodges-Lehmann shift: the median of the Walsh averages ``(d_i + d_j) / 2``,
    found without forming them (O(n log n) per step): the signed-rank statistic of
    ``d - shift`` falls as the shift rises and crosses its null mean there (on a flat
    stretch, its middle)."""
    tol = rel_tol * max(float(d.max() - d.min()), 1e-300)
    start = _first_shift(d, lambda b: b <= 0, tol)
    end = _first_shift(d, lambda b: b < 0, tol)
    return (start + end) / 2


def wilcoxon_abs_errors(y_true: Any, pred_champion: Any, pred_challenger: Any) -> dict[str, Any]:
    """The signed-rank test on the paired absolute errors, as a row of the comparison:
    ``difference`` is the Hodges-Lehmann shift of the absolute errors (challenger minus
    champion; negative = the challenger errs less), ``p_value`` the test's."""
    d = abs_error_differences(y_true, pred_champion, pred_challenger)
    p = float(wilcoxon_p_at(d)(np.zeros(1))[0])
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
