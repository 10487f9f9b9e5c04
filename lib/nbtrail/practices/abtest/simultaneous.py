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
  p-value crosses the level (:func:`inverted_bounds`, a bracketing root search).

Whether 0 is in an interval is taken from Holm's decision and the ends searched on the
side it says, so no rounding at a boundary can make them disagree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class _Level:
    """An interval of level ``1 - alpha / k`` around ``null``, whose status is Holm's."""

    k: int
    alpha: float
    null: float
    null_rejected: bool

    def accepted(self, theta: np.ndarray, p: np.ndarray) -> np.ndarray:
        ok = np.minimum(1.0, self.k * p) >= self.alpha
        return np.where(theta == self.null, not self.null_rejected, ok)


def _boundaries(
    p_at: Callable[[np.ndarray], np.ndarray],
    brackets: list[tuple[float, float, _Level]],
    tol: float,
    points: int = 64,
) -> list[float]:
    """For each ``(inside, outside, level)`` bracket (accepted and rejected at its level),
    the accepted end nearest the boundary between them: each round evaluates ``points``
    effects per bracket, all brackets in one call of ``p_at``, and keeps the first change
    from accepted to rejected."""
    ends = [[inside, outside] for inside, outside, _ in brackets]
    while True:
        live = [i for i, e in enumerate(ends) if abs(e[1] - e[0]) > tol]
        if not live:
            break
        grids = [np.linspace(ends[i][0], ends[i][1], points + 2)[1:-1] for i in live]
        p = np.asarray(p_at(np.concatenate(grids)), dtype=np.float64).reshape(len(live), points)
        for i, grid, p_row in zip(live, grids, p, strict=True):
            row = brackets[i][2].accepted(grid, p_row)
            first_out = int(np.argmin(row)) if not row.all() else points
            e = ends[i]
            new = [
                float(grid[first_out - 1]) if first_out > 0 else e[0],
                float(grid[first_out]) if first_out < points else e[1],
            ]
            ends[i] = [e[0], e[0]] if new == e else new  # no progress left: stop there
    return [e[0] for e in ends]


def inverted_intervals(
    p_at: Callable[[np.ndarray], np.ndarray],
    *,
    estimate: float,
    null: float,
    low: float,
    high: float,
    levels: Sequence[tuple[int, float, bool]],
    rel_tol: float = 1e-6,
) -> list[tuple[float, float]]:
    """For each ``(k, alpha, null_rejected)`` of ``levels``, the effects in
    ``[low, high]`` that the test does not reject at level ``alpha / k`` (``p_at``: the
    test's p-values at an array of effects), its ends found from ``estimate`` by a
    bracketing search, with ``null`` inside exactly when Holm did not reject it. All the
    intervals share each call of ``p_at``."""
    marks = np.array([estimate, low, high])
    p_marks = np.asarray(p_at(marks), dtype=np.float64)
    undetermined = estimate == null  # when Holm rejects the null: nothing accepted is known
    plans: list[tuple[bool, bool] | None] = []  # per level: whether low / high are accepted
    brackets: list[tuple[float, float, _Level]] = []
    for k, alpha, null_rejected in levels:
        level = _Level(k, alpha, null, null_rejected)
        est_ok, low_ok, high_ok = (bool(v) for v in level.accepted(marks, p_marks))
        if null_rejected and undetermined:
            plans.append(None)
            continue
        if null_rejected:  # the null is the outside end on the estimate's side
            start_lo = start_hi = estimate
            out_lo, out_hi = (null, high) if estimate > null else (low, null)
            low_ok, high_ok = low_ok and estimate > null, high_ok and estimate < null
        else:
            start = estimate if est_ok else null
            start_lo, start_hi = min(start, null), max(start, null)
            out_lo, out_hi = low, high
        if not low_ok:
            brackets.append((start_lo, out_lo, level))
        if not high_ok:
            brackets.append((start_hi, out_hi, level))
        plans.append((low_ok, high_ok))
    found = iter(_boundaries(p_at, brackets, rel_tol * max(high - low, 1e-300)))
    out: list[tuple[float, float]] = []
    for plan in plans:
        if plan is None:
            out.append((math.nan, math.nan))
            continue
        lo = low if plan[0] else next(found)
        hi = high if plan[1] else next(found)
        out.append((lo, hi))
    return out


def inverted_bounds(
    p_at: Callable[[np.ndarray], np.ndarray],
    *,
    estimate: float,
    null: float,
    null_rejected: bool,
    k: int,
    alpha: float,
    low: float,
    high: float,
) -> tuple[float, float]:
    """One interval of :func:`inverted_intervals`: level ``1 - alpha / k``."""
    (bounds,) = inverted_intervals(
        p_at, estimate=estimate, null=null, low=low, high=high, levels=[(k, alpha, null_rejected)]
    )
    return bounds


def level_label(k: int, alpha: float, m: int) -> str:
    """How an interval of multiplier ``k`` in a family of ``m`` is named in tables and
    reasons (a family of one needs no adjustment)."""
    level = f"{100 * (1 - alpha / k):.4g}%"
    return f"Holm-adjusted {level}" if m > 1 else level
