"""Intervals that agree with Holm's decisions: the adjusted intervals shown beside them.

Holm's step-down procedure tests the metric with the smallest p-value at ``alpha / m``,
the next at ``alpha / (m - 1)``, and so on, and stops at the first it cannot reject. An
ordinary 95% interval beside it can exclude 0 for a metric Holm calls "not significant";
these intervals cannot (after Strassburger and Bretz's construction, in its simplest
form):

- a metric Holm rejects, at step ``r`` (0-based), gets the ``1 - alpha / (m - r)``
  interval, the level at which it was tested;
- every metric Holm does not reject gets the ``1 - alpha / (m - s)`` interval, with ``s``
  the step at which the procedure stopped.

Each interval is the set of effects its own test does not reject at that level (a test
inversion), so "excludes 0" and "Holm-adjusted p < alpha" are one statement:

- a paired-bootstrap metric: the order-statistic percentile interval of the resampled
  differences, whose ends are found from the same p-value formula the test uses
  (:func:`bootstrap_bounds`);
- McNemar (accuracy) and Wilcoxon (absolute errors): the shifts at which the test's own
  p-value crosses the level (:func:`inverted_bounds`, bisection).

Whether 0 is in an interval is taken from Holm's decision and the ends searched on the
side it says, so no rounding at a boundary can make them disagree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from nbtrail.practices.abtest.paired import holm


def holm_multipliers(p_values: Mapping[str, float], alpha: float) -> dict[str, tuple[int, bool]]:
    """Per metric, ``(k, rejected)``: the interval of level ``1 - alpha / k`` agrees with
    Holm's decision (``rejected``: Holm-adjusted p < alpha), computed exactly as
    :func:`~nbtrail.practices.abtest.paired.holm` computes the adjusted p-values."""
    keys = list(p_values)
    adjusted = holm(p_values)
    order = np.argsort([float(p_values[k]) for k in keys], kind="stable")
    m = len(keys)
    out: dict[str, tuple[int, bool]] = {}
    stop: int | None = None
    for rank, i in enumerate(order):
        if adjusted[keys[i]] < alpha:  # adjusted p-values rise along the order
            out[keys[i]] = (m - rank, True)
        else:
            stop = rank if stop is None else stop
            out[keys[i]] = (m - stop, False)
    return out


def _side_rejected(count: int, n: int, k: int, alpha: float) -> bool:
    # The paired bootstrap's one-sided share (1 + count) / (n + 1), doubled and capped as in
    # paired_differences, then Holm's multiplier as in holm(): the same floating-point steps.
    return min(1.0, k * min(1.0, 2 * ((1 + count) / (n + 1)))) < alpha


def bootstrap_bounds(draws: np.ndarray, k: int, alpha: float) -> tuple[float, float]:
    """The percentile interval of the resampled differences at level ``1 - alpha / k``:
    the effects ``theta`` whose shifted draws ``draws - theta`` the paired bootstrap does
    not reject. Its ends are order statistics (``-inf``/``inf`` when too few resamples to
    reject anything at that level)."""
    d = np.sort(np.asarray(draws, dtype=np.float64))
    n = len(d)
    if not n:
        return math.nan, math.nan
    need = 0  # the fewest draws on a side for that side not to be rejected
    while need <= n and _side_rejected(need, n, k, alpha):
        need += 1
    if need == 0:
        return -math.inf, math.inf
    return float(d[need - 1]), float(d[n - need])


def _bisect(accept: Callable[[float], bool], inside: float, outside: float, tol: float) -> float:
    """The accepted end nearest the boundary between ``inside`` (accepted) and
    ``outside`` (rejected)."""
    while abs(outside - inside) > tol:
        mid = (inside + outside) / 2
        if mid in (inside, outside):
            break
        if accept(mid):
            inside = mid
        else:
            outside = mid
    return inside


def inverted_bounds(
    p_at: Callable[[float], float],
    *,
    estimate: float,
    null: float,
    null_rejected: bool,
    k: int,
    alpha: float,
    low: float,
    high: float,
    rel_tol: float = 1e-6,
) -> tuple[float, float]:
    """The effects in ``[low, high]`` that the test ``p_at`` does not reject at level
    ``alpha / k``: its ends found by bisection from ``estimate``, with ``null`` inside
    exactly when Holm did not reject it."""

    def accept(theta: float) -> bool:
        if theta == null:
            return not null_rejected
        return min(1.0, k * p_at(theta)) >= alpha

    tol = rel_tol * max(high - low, 1e-300)
    if null_rejected:
        if estimate == null:  # nothing accepted is known: undetermined
            return math.nan, math.nan
        if estimate > null:
            lo = _bisect(accept, estimate, null, tol)
            hi = high if accept(high) else _bisect(accept, estimate, high, tol)
        else:
            hi = _bisect(accept, estimate, null, tol)
            lo = low if accept(low) else _bisect(accept, estimate, low, tol)
        return lo, hi
    start_lo = min(estimate, null) if accept(estimate) else null
    start_hi = max(estimate, null) if accept(estimate) else null
    lo = low if accept(low) else _bisect(accept, start_lo, low, tol)
    hi = high if accept(high) else _bisect(accept, start_hi, high, tol)
    return lo, hi


def level_label(k: int, alpha: float, m: int) -> str:
    """How an interval of multiplier ``k`` in a family of ``m`` is named in tables and
    reasons (a family of one needs no adjustment)."""
    level = f"{100 * (1 - alpha / k):.4g}%"
    return f"Holm-adjusted {level}" if m > 1 else level
