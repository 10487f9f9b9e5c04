"""The group-sequential design: Lan-DeMets alpha spending and its boundaries.

**The sequential test chosen** is a two-sided group-sequential design with Lan-DeMets alpha
spending, O'Brien-Fleming type by default (``alpha(t) = 2 - 2 Phi(z_{alpha/2} / sqrt(t))``;
``"pocock"`` is ``alpha ln(1 + (e - 1) t)``). Boundaries are found by recursive numerical
integration of the score process (Armitage, McPherson and Rowe; Jennison and Turnbull
ch. 19) on a Simpson grid, so the type I error over all looks is alpha, looks may fall at
any information fractions, and the maximum sample size follows from the fixed-sample size
times the design's inflation factor. Chosen over a mixture SPRT because it gives a planned
maximum sample size and power, which the experiment plan must state before it starts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import optimize, stats

from nbtrail.core.errors import ParameterError
from nbtrail.practices.evaluation import plain


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
    fractions = fractions_of(looks)
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


def fractions_of(looks: int | Sequence[float]) -> np.ndarray:
    """The information fractions of ``looks``: a count of equally spaced looks, or the
    fractions themselves (increasing, ending at 1)."""
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
