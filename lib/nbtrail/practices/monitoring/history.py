"""The monitoring history: one row per (run, batch).

The record of truth is ``workspace/monitoring/history.jsonl`` (one JSON line per
:func:`record_history` call, appended under a lock with an fsync); the ``monitor_history``
table of the index is a cache of it, caught up on every read from the byte offset its
:class:`~nbtrail.core.applog.LogCache` applied, and re-derived whole by :func:`rebuild`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from nbtrail.core import db
from nbtrail.core.applog import LogCache, log_size, log_writer
from nbtrail.core.workspace import Workspace
from nbtrail.practices.monitoring.verdict import Verdict

_SCHEMA = """
CREATE TABLE IF NOT EXISTS monitor_history (
    run_id TEXT NOT NULL,
    batch TEXT NOT NULL,
    seq INTEGER NOT NULL,
    created TEXT NOT NULL,
    status TEXT NOT NULL,
    kind TEXT,
    rows INTEGER NOT NULL,
    drift_share REAL NOT NULL,
    n_drifted INTEGER NOT NULL,
    metric TEXT,
    metric_value REAL,
    baseline REAL,
    top_columns TEXT NOT NULL,
    summary TEXT NOT NULL,
    PRIMARY KEY (run_id, batch)
)
"""
_COLUMNS = (
    "run_id",
    "batch",
    "seq",
    "created",
    "status",
    "kind",
    "rows",
    "drift_share",
    "n_drifted",
    "metric",
    "metric_value",
    "baseline",
    "top_columns",
    "summary",
)


def _connect(ws: Workspace) -> Any:
    con = db.connect(ws.index_path)
    try:
        con.execute(_SCHEMA)
        _cache(ws).sync(con)
    except BaseException:
        con.close()
        raise
    return con


def _apply(con: Any, rec: Mapping[str, Any]) -> None:
    """Replay one logged :func:`record_history` call (it replaces that run's rows)."""
    try:
        run_id = rec["run_id"]
        rows = [
            tuple(
                json.dumps(r["top_columns"]) if c == "top_columns" else r.get(c)
                for c in _COLUMNS[1:]
            )
            for r in rec["rows"]
        ]
    except (KeyError, TypeError, AttributeError):
        return
    con.execute("DELETE FROM monitor_history WHERE run_id = ?", (run_id,))
    con.executemany(
        "INSERT OR REPLACE INTO monitor_history VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [(run_id, *r) for r in rows],
    )


def _legacy(con: Any) -> list[dict[str, Any]]:
    """A history written before the log existed, as log records (one per run)."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for r in con.execute("SELECT * FROM monitor_history ORDER BY created, run_id, seq"):
        row = dict(zip(_COLUMNS, tuple(r), strict=True))
        row["top_columns"] = json.loads(row["top_columns"])
        runs.setdefault(row.pop("run_id"), []).append(row)
    return [{"run_id": run_id, "rows": rows} for run_id, rows in runs.items()]


def _reset(con: Any) -> None:
    con.execute("DELETE FROM monitor_history")


def _cache(ws: Workspace) -> LogCache:
    """``monitor_history`` in the index, as the cache of ``workspace/monitoring/history.jsonl``."""
    return LogCache("monitoring", ws.monitoring_log, _reset, _apply, _legacy)


@db.recovering
def rebuild(ws: Workspace) -> int:
    """Re-derive ``monitor_history`` in the index from the log; returns the lines replayed
    (``nbtrail index rebuild`` calls this)."""
    con = _connect(ws)
    try:
        return _cache(ws).rebuild(con)
    finally:
        con.close()


@db.recovering
def record_history(
    ws: Workspace,
    run_id: str,
    verdicts: Sequence[Verdict],
    *,
    created: str | None = None,
    top_k: int = 5,
) -> None:
    """Store one row per batch of ``run_id`` (replacing that run's earlier rows): appended to
    ``workspace/monitoring/history.jsonl``, then replayed into the index's cache of it. Made
    again on a fresh index if the index was corrupt: a second line for the run, which replaces
    the first one's rows, as every later line for a run does."""
    when = created or datetime.now(UTC).isoformat(timespec="seconds")
    rows = [
        {
            "batch": v.batch,
            "seq": i,
            "created": when,
            "status": v.status,
            "kind": v.kind,
            "rows": v.rows,
            "drift_share": v.drift_share,
            "n_drifted": len(v.drifted_columns),
            "metric": v.metric,
            "metric_value": v.metric_value,
            "baseline": v.baseline,
            "top_columns": list(v.top_columns(top_k)),
            "summary": v.summary,
            **({"estimate": v.estimate, "baselines": v.baselines} if v.estimate else {}),
        }
        for i, v in enumerate(verdicts)
    ]
    con = _connect(ws)  # a pre-log history is copied into the log before this call's line
    try:
        with log_writer(ws.monitoring_log) as append:
            append({"run_id": run_id, "rows": rows})
        _cache(ws).sync(con)
    finally:
        con.close()


@db.recovering
def load_history(ws: Workspace, limit: int | None = None) -> pd.DataFrame:
    """The monitoring history, oldest first (the last ``limit`` rows if given)."""
    cols = list(_COLUMNS)
    if not Path(ws.index_path).exists() and not log_size(ws.monitoring_log):
        return pd.DataFrame(columns=cols)
    con = _connect(ws)
    try:
        rows = con.execute("SELECT * FROM monitor_history ORDER BY created, run_id, seq").fetchall()
    finally:
        con.close()
    df = pd.DataFrame([tuple(r) for r in rows], columns=cols)
    df["top_columns"] = df["top_columns"].map(json.loads)
    return df.tail(limit).reset_index(drop=True) if limit else df


def format_history(history: pd.DataFrame) -> str:
    """The history as text lines (for ``nbtrail runs --stage monitor`` or a log)."""
    if history.empty:
        return "no monitoring history yet"
    lines = [
        f"{'created':19s}  {'run':30s}  {'batch':18s}  {'status':6s}  share  {'metric':16s}  top"
    ]
    for r in history.itertuples():
        shown = "" if pd.isna(r.metric_value) else f"{r.metric or ''} {r.metric_value:.4g}"
        lines.append(
            f"{r.created[:19]:19s}  {r.run_id:30s}  {r.batch[:18]:18s}  {r.status:6s}  "
            f"{r.drift_share:5.0%}  {shown[:16]:16s}  "
            f"{', '.join(r.top_columns[: min(3, r.n_drifted)])}"
        )
    return "\n".join(lines)
