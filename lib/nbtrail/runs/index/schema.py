"""The run index's tables in ``workspace/index.sqlite`` and their layout version.

:func:`connect` creates them; a layout change (``LAYOUT``) drops them, and the next
:func:`~nbtrail.runs.index.ensure.ensure` rebuilds them from the run folders.
"""

from __future__ import annotations

import sqlite3

from nbtrail.core import db
from nbtrail.core.workspace import Workspace

LAYOUT = "3"  # 2: run_sweeps; 3: runs.size (trusted on rebuild), run_problems.listed
TERMINAL = frozenset({"completed", "failed", "interrupted", "cached"})

SCHEMA = """
CREATE TABLE IF NOT EXISTS run_index_meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, stage TEXT NOT NULL, status TEXT NOT NULL, origin TEXT NOT NULL,
    pid INTEGER, started TEXT NOT NULL, ended TEXT, duration_s REAL,
    fingerprint TEXT, cached_from TEXT, reproduces TEXT,
    notebook_path TEXT, notebook_hash TEXT, code_hash TEXT,
    git_commit TEXT, git_dirty INTEGER, python TEXT, lock_hash TEXT, error TEXT,
    mtime_ns INTEGER NOT NULL DEFAULT 0, size INTEGER NOT NULL DEFAULT 0, notebook_stat TEXT
);
CREATE INDEX IF NOT EXISTS runs_stage ON runs (stage, started);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started);
CREATE INDEX IF NOT EXISTS runs_fingerprint ON runs (stage, fingerprint);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
CREATE INDEX IF NOT EXISTS runs_cached_from ON runs (cached_from);
CREATE TABLE IF NOT EXISTS run_params (
    run_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT, num REAL,
    PRIMARY KEY (run_id, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS run_params_name ON run_params (name, num);
CREATE TABLE IF NOT EXISTS run_metrics (
    run_id TEXT NOT NULL, name TEXT NOT NULL, value REAL,
    PRIMARY KEY (run_id, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS run_metrics_name ON run_metrics (name, value);
CREATE TABLE IF NOT EXISTS run_artifacts (
    run_id TEXT NOT NULL, direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    name TEXT NOT NULL, kind TEXT NOT NULL, digest TEXT NOT NULL, ref TEXT, path TEXT,
    src_stage TEXT, src_run_id TEXT
);
CREATE INDEX IF NOT EXISTS run_artifacts_run ON run_artifacts (run_id, direction);
CREATE INDEX IF NOT EXISTS run_artifacts_digest ON run_artifacts (digest);
CREATE INDEX IF NOT EXISTS run_artifacts_ref ON run_artifacts (ref);
CREATE INDEX IF NOT EXISTS run_artifacts_path ON run_artifacts (path);
CREATE INDEX IF NOT EXISTS run_artifacts_src ON run_artifacts (src_run_id);
CREATE TABLE IF NOT EXISTS run_sweeps (
    run_id TEXT PRIMARY KEY, sweep_id TEXT NOT NULL, member INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS run_sweeps_sweep ON run_sweeps (sweep_id);
CREATE TABLE IF NOT EXISTS run_problems (
    folder TEXT NOT NULL, path TEXT NOT NULL, problem TEXT NOT NULL,
    mtime_ns INTEGER NOT NULL DEFAULT 0, listed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (folder, problem)
);
"""
INDEXES = tuple(
    stmt.split()[5] for stmt in SCHEMA.split(";") if stmt.strip().startswith("CREATE INDEX")
)
TABLES = ("runs", "run_params", "run_metrics", "run_artifacts", "run_sweeps", "run_problems")


def connect(ws: Workspace) -> sqlite3.Connection:
    """The index connection with this module's tables created (layout upgrades drop them)."""
    con = db.connect(ws.index_path)
    if _layout(con) != LAYOUT:
        with db.transaction(con):
            row = _layout(con)  # again, now that we hold the write lock
            if row == LAYOUT:
                return con
            if row is not None:  # an older layout: drop ours, the next ensure() rebuilds
                for t in TABLES:
                    con.execute(f"DROP TABLE IF EXISTS {t}")
                con.execute("DELETE FROM run_index_meta")
            for stmt in SCHEMA.split(";"):
                if stmt.strip():
                    con.execute(stmt)
            con.execute(
                "INSERT OR REPLACE INTO run_index_meta (key, value) VALUES ('layout', ?)",
                (LAYOUT,),
            )
    return con


def create_indexes(con: sqlite3.Connection) -> None:
    """(Re)make the secondary indexes of the tables (a rebuild drops them while it inserts)."""
    for stmt in SCHEMA.split(";"):
        if stmt.strip().startswith("CREATE INDEX"):
            con.execute(stmt)


def _layout(con: sqlite3.Connection) -> str | None:
    try:
        row = con.execute("SELECT value FROM run_index_meta WHERE key = 'layout'").fetchone()
    except sqlite3.OperationalError:  # no such table yet
        return None
    return row[0] if row else None
