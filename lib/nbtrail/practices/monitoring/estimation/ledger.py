"""Estimate and realised performance per (run, batch, metric): the ``monitor_estimates`` table
of the index, a cache of the monitoring log (``workspace/monitoring/history.jsonl``).

Two kinds of log line feed it: a run's history record (its rows carry each batch's
``estimate``) and a ``labels`` record (:mod:`~.late_labels`: the realised metrics of a batch
whose labels arrived later). Neither is ever rewritten; a later ``labels`` record for the same
batch supersedes the realised values of an earlier one in the table, both stay in the log.
The table keeps its own offset in the log (``LogCache`` key ``monitoring_estimates``), so
deleting the index or ``nbtrail index rebuild`` re-derives it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from nbtrail.core.applog import LogCache, log_size
from nbtrail.core.workspace import Workspace
from nbtrail.practices.monitoring.task import ERROR_METRICS

_SCHEMA = """
CREATE TABLE IF NOT EXISTS monitor_estimates (
    run_id TEXT NOT NULL,
    batch TEXT NOT NULL,
    metric TEXT NOT NULL,
    created TEXT NOT NULL,
    method TEXT,
    trusted INTEGER,
    estimate REAL,
    low REAL,
    high REAL,
    baseline REAL,
    realised REAL,
    labelled INTEGER,
    rows INTEGER,
    labelled_at TEXT,
    PRIMARY KEY (run_id, batch, metric)
)
"""
COLUMNS = (
    "run_id",
    "batch",
    "metric",
    "created",
    "method",
    "trusted",
    "estimate",
    "low",
    "high",
    "baseline",
    "realised",
    "labelled",
    "rows",
    "labelled_at",
)
KEY = "monitoring_estimates"


def _estimates(con: Any, run_id: str, rows: list[Mapping[str, Any]]) -> None:
    con.execute("DELETE FROM monitor_estimates WHERE run_id = ?", (run_id,))
    for r in rows:
        est = r.get("estimate")
        if not isinstance(est, Mapping):
            continue
        base = r.get("baselines") or {}
        for metric, e in (est.get("metrics") or {}).items():
            con.execute(
                "INSERT OR REPLACE INTO monitor_estimates (run_id, batch, metric, created, method,"
                " trusted, estimate, low, high, baseline, rows) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    r["batch"],
                    metric,
                    r["created"],
                    est.get("method"),
                    int(bool(est.get("trusted"))),
                    e.get("value"),
                    e.get("low"),
                    e.get("high"),
                    base.get(metric),
                    r.get("rows"),
                ),
            )


def _labels(con: Any, rec: Mapping[str, Any]) -> None:
    for metric, value in (rec.get("realised") or {}).items():
        con.execute(
            "INSERT INTO monitor_estimates (run_id, batch, metric, created, rows, realised,"
            " labelled, labelled_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (run_id, batch, metric)"
            " DO UPDATE SET realised = excluded.realised, labelled = excluded.labelled,"
            " labelled_at = excluded.labelled_at",
            (
                rec["run_id"],
                rec["batch"],
                metric,
                rec["created"],
                rec.get("rows"),
                value,
                rec.get("labelled"),
                rec["created"],
            ),
        )


def _apply(con: Any, rec: Mapping[str, Any]) -> None:
    try:
        if isinstance(rec.get("labels"), Mapping):
            _labels(con, rec["labels"])
        elif "rows" in rec:
            _estimates(con, rec["run_id"], list(rec["rows"]))
    except (KeyError, TypeError, AttributeError):
        return


def _reset(con: Any) -> None:
    con.execute("DELETE FROM monitor_estimates")


def _cache(ws: Workspace) -> LogCache:
    return LogCache(KEY, ws.monitoring_log, _reset, _apply, lambda con: [])


def _connect(ws: Workspace) -> Any:
    return _cache(ws).open(ws.index_path, _SCHEMA)


def rebuild_estimates(ws: Workspace) -> int:
    """Re-derive ``monitor_estimates`` from the log; returns the lines replayed."""
    con = _connect(ws)
    try:
        return _cache(ws).rebuild(con)
    finally:
        con.close()


def estimate_history(ws: Workspace, batch: str | None = None) -> pd.DataFrame:
    """Estimate vs realised per (run, batch, metric), oldest first (only ``batch`` if given)."""
    if not Path(ws.index_path).exists() and not log_size(ws.monitoring_log):
        return pd.DataFrame(columns=list(COLUMNS))
    con = _connect(ws)
    try:
        sql = "SELECT * FROM monitor_estimates"
        args: tuple[Any, ...] = ()
        if batch is not None:
            sql, args = sql + " WHERE batch = ?", (batch,)
        rows = con.execute(sql + " ORDER BY created, run_id, batch, metric", args).fetchall()
    finally:
        con.close()
    df = pd.DataFrame([tuple(r) for r in rows], columns=list(COLUMNS))
    df["trusted"] = df["trusted"].map(lambda v: None if pd.isna(v) else bool(v))
    return df


def format_estimates(history: pd.DataFrame) -> str:
    """Estimate vs realised as text lines, one per (run, batch, metric)."""
    if history.empty:
        return "no estimated or late-labelled batches yet"

    def num(metric: str, v: Any) -> str:
        if v is None or pd.isna(v):
            return "-"
        return f"{v:.4g}" if metric in ERROR_METRICS else f"{v:.3f}"

    lines = [
        f"{'created':19s}  {'batch':18s}  {'metric':17s}  {'estimate':>8s}  "
        f"{'interval':>15s}  {'realised':>8s}  {'labelled':>9s}  trusted"
    ]
    for r in history.itertuples():
        interval = f"{num(r.metric, r.low)}-{num(r.metric, r.high)}" if not pd.isna(r.low) else "-"
        rows = "" if pd.isna(r.rows) else f"/{int(r.rows)}"
        labelled = "-" if pd.isna(r.labelled) else f"{int(r.labelled)}{rows}"
        trusted = "-" if r.trusted is None else "yes" if r.trusted else "NO"
        lines.append(
            f"{str(r.created)[:19]:19s}  {str(r.batch)[:18]:18s}  {str(r.metric):17s}  "
            f"{num(r.metric, r.estimate):>8s}  {interval:>15s}  {num(r.metric, r.realised):>8s}  "
            f"{labelled:>9s}  {trusted}"
        )
    return "\n".join(lines)
