"""``monitoring``'s view logic: the monitoring history (``practices/monitoring/history.py``) as
a picture and a table, and one batch's verdict with its Evidently drift report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from nbtrail.core.workspace import Workspace
from nbtrail.practices import monitoring as mon
from nbtrail.practices.reports import show_report
from nbtrail.runs import index
from nbtrail.widgets import html as h
from nbtrail.widgets.run_detail import recorded

BUTTON_STYLES = {mon.PASS: "success", mon.WARN: "warning", mon.FAIL: "danger"}


def history(ws: Workspace, limit: int | None = 30) -> pd.DataFrame:
    """The last ``limit`` batches monitored, oldest first."""
    return mon.load_history(ws, limit=limit)


def drift_share_fail(ws: Workspace) -> float:
    """The failing drift share the latest monitor run used (0: any drifted column fails)."""
    rows = index.query_runs(ws, stage="monitor", limit=1)
    value = rows[0].params.get("drift_share_fail") if rows else None
    return float(value) if isinstance(value, int | float) else 0.0


def history_png(hist: pd.DataFrame, *, fail_at: float = 0.0) -> bytes:
    """Drift share and accuracy per batch over time (:func:`~nbtrail.practices.monitoring.plot_history`)."""
    return h.figure_png(mon.plot_history(hist, drift_share_fail=fail_at))


def label(row: Any) -> str:
    """A batch as its button says it: ``covariate_drift · 12-03 11:35``."""
    return f"{row.batch[:22]} · {str(row.created)[5:16].replace('T', ' ')}"


def history_html(hist: pd.DataFrame) -> str:
    """The history as a table, newest first."""
    if hist.empty:
        return h.para("no monitoring history yet: run the monitor stage", muted=True)
    rows = []
    for r in hist.iloc[::-1].itertuples():
        metric = None if pd.isna(r.metric_value) else r.metric_value
        rows.append([
            str(r.created)[:16].replace("T", " "), r.run_id, r.batch,
            h.colored(r.status.upper(), h.VERDICT_COLORS.get(r.status, "#444")),
            f"{r.drift_share:.0%}", ", ".join(r.top_columns[: min(3, r.n_drifted)]), metric,
        ])  # fmt: skip
    columns = ["created", "run", "batch", "verdict", "drift share", "drifted", "accuracy"]
    return h.table(columns, rows, raw=[3])


def batch_html(ws: Workspace, run_id: str, batch: str, *, start: Path | None = None) -> str:
    """One batch: its recorded verdict, and its drift report shown inline (when saved)."""
    rec = recorded(ws, run_id)
    verdict: dict[str, Any] = dict(rec["verdicts"].get(f"monitor_{batch}", {}))
    status = str(verdict.get("status") or ("pass" if verdict.get("passed") else "fail"))
    parts = [
        h.heading(f"batch {batch} of run {run_id}"),
        "<div>verdict: "
        + h.colored(status.upper(), h.VERDICT_COLORS.get(status, "#444"))
        + "</div>",
    ]
    if verdict.get("summary"):
        parts.append(h.para(str(verdict["summary"])))
    details = [
        [k, v] for k, v in sorted(verdict.items()) if k not in ("summary", "passed", "status")
    ]
    if details:
        parts.append(h.table(["", ""], details))
    art = rec["outputs"].get(f"drift_{batch}")
    page = ws.root / str(art["path"]) if art and art.get("path") else None
    if page is not None and page.is_file():
        parts.append(show_report(page, ws, notebook_dir=start or h.notebook_dir())._repr_html_())
    else:
        parts.append(h.para("no drift report saved for this batch", muted=True))
    return "".join(parts)
