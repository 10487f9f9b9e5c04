"""``compare``'s view logic: a stage's runs as a frame of parameters and one metric, drawn as the
metric across runs and a parallel-coordinates view (a scatter when one parameter varies)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nbtrail.core.workspace import Workspace
from nbtrail.runs import index, records
from nbtrail.runs.index import RunRow

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_AXES = 8  # parameters drawn in the parallel-coordinates view


def flat_params(params: dict[str, Any]) -> dict[str, Any]:
    """Mapping parameters one level flat (``bootstrap.n_boot``); lists as their JSON text."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, dict):
            for kk, vv in v.items():
                out[f"{k}.{kk}"] = (
                    json.dumps(vv, default=str) if isinstance(vv, dict | list) else vv
                )
        elif isinstance(v, list):
            out[k] = json.dumps(v, default=str)
        else:
            out[k] = v
    return out


def compare_frame(rows: list[RunRow], metric: str) -> pd.DataFrame:
    """One row per run that logged ``metric``, oldest first: run, started, the metric, and every
    parameter (flattened)."""
    records = [
        {"run": r.run_id, "started": r.started, metric: r.metrics[metric], **flat_params(r.params)}
        for r in rows
        if r.metrics.get(metric) is not None
    ]
    frame = pd.DataFrame(records, columns=["run", "started", metric] if not records else None)
    return frame.sort_values(["started", "run"]).reset_index(drop=True) if records else frame


def varying(frame: pd.DataFrame, metric: str) -> list[str]:
    """The parameter columns that take more than one value across the runs."""
    cols = [c for c in frame.columns if c not in ("run", "started", metric)]
    return [c for c in cols if frame[c].astype(str).nunique(dropna=False) > 1]


def _axis(values: pd.Series) -> tuple[np.ndarray, list[tuple[float, str]]]:
    """Values scaled to [0, 1] and the ticks to label the axis with."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all() and not values.map(lambda v: isinstance(v, bool)).any():
        lo, hi = float(numeric.min()), float(numeric.max())
        span = hi - lo or 1.0
        return ((numeric - lo) / span).to_numpy(), [(0.0, f"{lo:.4g}"), (1.0, f"{hi:.4g}")]
    labels = sorted(values.astype(str).unique())
    pos = {v: i / max(len(labels) - 1, 1) for i, v in enumerate(labels)}
    return values.astype(str).map(pos).to_numpy(dtype=float), [(pos[v], v[:14]) for v in labels]


def compare_figure(frame: pd.DataFrame, metric: str, stage: str) -> Figure:
    """Left: ``metric`` of each run in the order they ran. Right: parameters against it,
    as parallel coordinates (a line per run, coloured by the metric), a scatter when only one
    parameter varies, or a note when none does."""
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.6])
    if frame.empty:
        left.set_title(f"no {stage} run logged {metric}")
        right.set_axis_off()
        return fig
    y = frame[metric].astype(float).to_numpy()
    left.plot(np.arange(len(y)), y, "-o" if len(y) <= 200 else "-", ms=3, lw=1)
    left.set_xlabel("run (oldest to newest)")
    left.set_ylabel(metric)
    left.set_title(f"{stage}: {metric} across {len(y)} run{'s' if len(y) != 1 else ''}")
    params = varying(frame, metric)[:MAX_AXES]
    if not params:
        right.set_axis_off()
        right.text(0.5, 0.5, "the parameters do not vary across these runs", ha="center")
        return fig
    if len(params) == 1:
        x, ticks = _axis(frame[params[0]])
        right.scatter(x, y, c=y, cmap="viridis", s=18)
        right.set_xticks([t for t, _ in ticks], [lab for _, lab in ticks])
        right.set_xlabel(params[0])
        right.set_ylabel(metric)
        right.set_title(f"{params[0]} against {metric}")
        return fig
    axes = [*params, metric]
    scaled = [_axis(frame[c]) for c in axes]
    xs = np.arange(len(axes))
    lines = [np.column_stack([xs, [s[0][i] for s in scaled]]) for i in range(len(frame))]
    span = float(y.max() - y.min()) or 1.0
    colors = (y - y.min()) / span
    import matplotlib

    coll = LineCollection(lines, cmap=matplotlib.colormaps["viridis"], linewidths=1, alpha=0.7)
    coll.set_array(colors)
    right.add_collection(coll)
    for i, (_, ticks) in enumerate(scaled):
        right.axvline(i, color="grey", lw=0.8)
        for pos, lab in ticks:
            right.text(i + 0.03, pos, lab, fontsize=7, va="center")
    right.set_xlim(-0.2, len(axes) - 0.6)
    right.set_ylim(-0.05, 1.05)
    right.set_xticks(xs, [a[:16] for a in axes], rotation=20, ha="right", fontsize=8)
    right.set_yticks([])
    right.set_title(f"parameters against {metric} (colour: {metric})")
    return fig


def default_metric(ws: Workspace, stage: str) -> str | None:
    """The metric to compare a stage's runs on: the first one its latest completed run names
    in its summary (``run.summarize``) and logged, else its first metric, else None."""
    rows = index.query_runs(ws, stage=stage, status="completed", limit=1)
    if not rows:
        return None
    rec = records.load(ws, rows[0].run_id)
    summary = rec.get("extra", {}).get("summary")
    wanted = summary.get("metrics", []) if isinstance(summary, dict) else []
    logged = [m for m in wanted if rec["metrics"].get(m) is not None]
    if logged:
        return str(logged[0])
    names = sorted(k for k, v in rec["metrics"].items() if v is not None)
    return names[0] if names else None
