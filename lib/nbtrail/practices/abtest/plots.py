"""The paired comparison drawn: each metric's improvement with the interval that agrees with
Holm's decision (the adjusted interval), per metric."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def effect_plot(result: Mapping[str, Any], ax: Any = None) -> Any:
    """Improvement (positive = challenger better) with its adjusted interval, per metric
    (the unadjusted one for a result without ``adjusted_intervals``)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 1.0 + 0.45 * len(result["metrics"])))
    names = list(result["metrics"])
    adjusted = result.get("adjusted_intervals") or {}
    imp = [result["metrics"][m]["improvement"] for m in names]
    shown = [
        (adjusted[m] if m in adjusted else result["metrics"][m])["improvement_ci"] for m in names
    ]
    # An end the test leaves open (too few resamples at that level) is drawn to the edge.
    lo = [v if v is not None else i for (v, _), i in zip(shown, imp, strict=True)]
    hi = [v if v is not None else i for (_, v), i in zip(shown, imp, strict=True)]
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
    # Each interval drawn from its ends, not as errors around the point: a bootstrap percentile
    # interval (or one from an inverted test) need not contain the point estimate, and
    # matplotlib's errorbar refuses the negative length that would take.
    ax.hlines(ypos, lo, hi, colors=colors)
    ax.scatter([*lo, *hi], [*ypos, *ypos], c=[*colors, *colors], marker="|", s=60)
    ax.scatter(imp, ypos, c=colors, zorder=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(ypos, names)
    ax.invert_yaxis()
    if adjusted:
        what = "intervals at each metric's Holm level"
    else:
        level = result["metrics"][names[0]].get("level", 0.95) if names else 0.95
        what = f"{level:.0%} CI"
    ax.set_xlabel(f"challenger minus champion, signed so positive = better ({what})")
    ax.set_title(
        f"decision: {result.get('decision', '?')}  (coloured: Holm-adjusted p < alpha)", fontsize=10
    )
    ax.figure.tight_layout()
    return ax
