"""``slices: auto``: slices found in the data rather than named by hand.

Categorical columns with few levels are sliced by level; the numeric features the model
leans on most (the largest absolute rank correlation between the feature and the model's
score on the holdout) are cut into quantile bins. The choice is deterministic for the same
data and model, and recorded with the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def choose_slices(
    frame: pd.DataFrame,
    score: Any,
    columns: Sequence[str],
    *,
    max_levels: int = 10,
    max_categorical: int = 2,
    max_numeric: int = 2,
    bins: int = 3,
    min_rows: int = 10,
) -> dict[str, Any]:
    """``{column: "category" | quantile count}`` for :func:`evaluation.slice_metrics`.

    A column qualifies when each of its slices can hold ``min_rows`` rows; among the
    numeric ones, the model's most important come first (ties broken by name)."""
    score_arr = np.asarray(score, dtype=np.float64)
    if score_arr.ndim > 1:  # class probabilities: the spread of the most likely class
        score_arr = score_arr.max(axis=1)
    n = len(frame)
    categorical: list[str] = []
    ranked: list[tuple[float, str]] = []
    for col in columns:
        s = frame[col]
        levels = s.nunique(dropna=True)
        if levels < 2:
            continue
        if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            if levels <= max_levels and s.value_counts().iloc[-1] >= min_rows:
                categorical.append(col)
        elif levels > bins and n >= bins * min_rows:
            rho = pd.Series(s.to_numpy(dtype=np.float64)).corr(
                pd.Series(score_arr), method="spearman"
            )
            if np.isfinite(rho):
                ranked.append((-abs(float(rho)), str(col)))
    chosen: dict[str, Any] = {c: "category" for c in sorted(categorical)[:max_categorical]}
    for _, col in sorted(ranked)[:max_numeric]:
        chosen[col] = bins
    return chosen
