"""The monitoring history drawn: drift share and the performance metric per batch, colored by
verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from nbtrail.practices.monitoring.task import ERROR_METRICS
from nbtrail.practices.monitoring.verdict import FAIL, PASS, WARN

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_history(history: pd.DataFrame, *, drift_share_fail: float = 0.0) -> Figure:
    """Drift share and the headline performance metric per batch over time, colored by
    verdict, top columns named. The lower panel shows the metric of the latest labelled batch
    (accuracy, MAE, ...) for the batches measured on it."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5.5), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    if history.empty:
        ax1.set_title("no monitoring history yet")
        return fig
    x = np.arange(len(history))
    labels = [
        f"{b[:18]}\n{c[5:16].replace('T', ' ')}"
        for b, c in zip(history["batch"], history["created"], strict=True)
    ]
    palette = {FAIL: "tab:red", WARN: "tab:orange", PASS: "tab:green"}
    colors = [palette.get(s, "grey") for s in history["status"]]
    share = history["drift_share"].astype(float)
    top = max(0.2, float(share.max()) * 1.6)
    ax1.bar(x, share, color=colors, width=0.6)
    ax1.scatter(x, share, c=colors, zorder=3, s=18)
    if drift_share_fail > 0:
        ax1.axhline(drift_share_fail, color="grey", ls="--", lw=1, label="fail threshold")
        ax1.legend(loc="upper left")
    for xi, sh, cols, n in zip(x, share, history["top_columns"], history["n_drifted"], strict=True):
        if n and cols:
            text = cols[0][:16] + (f" +{n - 1}" if n > 1 else "")
            ax1.annotate(
                text,
                (xi, sh),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=6.5,
            )
    ax1.set_ylabel("share of drifted columns")
    ax1.set_ylim(0, top)
    ax1.set_title("monitoring history (red: failed, orange: warning, green: passed)")
    has = history["metric_value"].notna().to_numpy()
    metric = str(history.loc[has, "metric"].iloc[-1]) if has.any() else "accuracy"
    has = has & (history["metric"] == metric).to_numpy()
    if has.any():
        values = history.loc[has, "metric_value"]
        ax2.plot(x[has], values, "-", color="lightgrey", zorder=1)
        ax2.scatter(x[has], values, c=np.array(colors)[has], zorder=2, label=f"batch {metric}")
        ax2.plot(x[has], history.loc[has, "baseline"], "k--", lw=1, label="baseline")
        ax2.legend(loc="lower left")
    ax2.set_ylabel(metric)
    if metric in ERROR_METRICS:
        ax2.set_ylim(bottom=0)
    else:
        ax2.set_ylim(0, 1.02)
    ax2.set_xticks(x, labels, fontsize=7, rotation=30, ha="right")
    return fig
