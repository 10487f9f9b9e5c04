"""Estimate vs realised performance over time: one panel per metric, the estimate with its
interval, the realised value where labels arrived, the baseline dashed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from nbtrail.practices.monitoring.task import ERROR_METRICS

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_estimates(history: pd.DataFrame, metrics: tuple[str, ...] | None = None) -> Figure:
    """Estimated (with its interval) and realised value per batch and metric, oldest left
    (``history``: :func:`~.ledger.estimate_history`; ``metrics``: which to draw, by default
    those with an estimate, at most two)."""
    from matplotlib.figure import Figure

    shown = history[history["estimate"].notna()] if not history.empty else history
    names = list(metrics or dict.fromkeys(shown["metric"]))[:2] if not shown.empty else []
    fig = Figure(figsize=(9, 2.6 * max(1, len(names))), layout="constrained")
    axes = np.atleast_1d(fig.subplots(max(1, len(names)), 1, sharex=True, squeeze=False)[:, 0])
    if not names:
        axes[0].set_title("no estimated batches yet")
        return fig
    keys = list(dict.fromkeys(zip(shown["created"], shown["run_id"], shown["batch"], strict=True)))
    x_of = {k: i for i, k in enumerate(keys)}
    for ax, metric in zip(axes, names, strict=False):
        h = history[history["metric"] == metric]
        h = h[[k in x_of for k in zip(h["created"], h["run_id"], h["batch"], strict=True)]]
        x = np.array([x_of[k] for k in zip(h["created"], h["run_id"], h["batch"], strict=True)])
        est, low, high = (h[c].to_numpy(dtype=float) for c in ("estimate", "low", "high"))
        ax.errorbar(
            x,
            est,
            yerr=[est - low, high - est],
            fmt="o",
            color="tab:blue",
            capsize=3,
            label="estimate (interval)",
        )
        real = h["realised"].to_numpy(dtype=float)
        has = np.isfinite(real)
        if has.any():
            ax.scatter(
                x[has],
                real[has],
                marker="x",
                color="tab:red",
                zorder=3,
                s=40,
                label="realised (late labels)",
            )
        base = h["baseline"].to_numpy(dtype=float)
        if np.isfinite(base).any():
            ax.plot(x, base, "k--", lw=1, label="baseline")
        ax.set_ylabel(metric)
        if metric not in ERROR_METRICS:
            ax.set_ylim(max(0.0, float(np.nanmin(np.r_[low, real[has]])) - 0.05), 1.01)
        ax.legend(loc="lower left", fontsize=7)
    axes[0].set_title("performance without labels: estimate vs realised")
    labels = [f"{b[:18]}\n{str(c)[5:16].replace('T', ' ')}" for c, _, b in keys]
    axes[-1].set_xticks(np.arange(len(keys)), labels, fontsize=7, rotation=30, ha="right")
    return fig
