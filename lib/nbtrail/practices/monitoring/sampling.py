"""Uniform row samples for the Evidently report, and the DKW bound on what sampling costs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def sampling_error_bound(n: int, delta: float = 0.001) -> float:
    """DKW: with probability >= 1 - delta, a uniform sample of ``n`` rows has every empirical
    CDF value (and category share) within this distance of the full data's."""
    return math.sqrt(math.log(2 / delta) / (2 * n))


def sample_rows(df: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """A uniform random sample of ``n`` rows without replacement (all rows if fewer)."""
    if len(df) <= n:
        return df
    idx = np.sort(np.random.default_rng(seed).choice(len(df), size=n, replace=False))
    return df.iloc[idx]
