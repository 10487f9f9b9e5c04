"""Sample size and power of a two-sided test of two proportions: the normal approximation
with a pooled-variance null and an unpooled alternative (Fleiss, without continuity
correction)."""

from __future__ import annotations

import math
from typing import TypedDict

from scipy import stats

from nbtrail.core.errors import ParameterError


class ErrorRates(TypedDict, total=False):
    """A test's error rates: ``alpha``, the two-sided type I error (default 0.05), and
    ``power``, one minus the type II error (default 0.8)."""

    alpha: float
    power: float


def _check_proportions(p_control: float, p_treatment: float) -> None:
    for name, p in (("p_control", p_control), ("p_treatment", p_treatment)):
        if not 0 < p < 1:
            raise ParameterError(f"{name} must be in (0, 1), got {p!r}", parameter=name)
    if p_control == p_treatment:
        raise ParameterError(
            "p_control and p_treatment are equal: no effect to detect", parameter="mde"
        )


def _standard_deviations(p_control: float, p_treatment: float, ratio: float) -> tuple[float, float]:
    """The difference's standard deviation per control unit under the null (pooled
    ``pbar = (p_c + r p_t) / (1 + r)``) and under the alternative, for valid proportions."""
    _check_proportions(p_control, p_treatment)
    pbar = (p_control + ratio * p_treatment) / (1 + ratio)
    null_sd = math.sqrt(pbar * (1 - pbar) * (1 + 1 / ratio))
    alt_sd = math.sqrt(p_control * (1 - p_control) + p_treatment * (1 - p_treatment) / ratio)
    return null_sd, alt_sd


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
    null_sd, alt_sd = _standard_deviations(p_control, p_treatment, ratio)
    za = stats.norm.isf(alpha / 2)
    zb = stats.norm.ppf(power)
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
    null_sd, alt_sd = _standard_deviations(p_control, p_treatment, ratio)
    za = stats.norm.isf(alpha / 2)
    delta = abs(p_treatment - p_control)
    return float(stats.norm.cdf((delta * math.sqrt(n_control) - za * null_sd) / alt_sd))
