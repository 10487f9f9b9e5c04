"""The run index: every run record in SQLite (``workspace/index.sqlite``), derived from run folders.

The run folders are the source of truth; the index is a cache of them that answers queries
(listings, filters on parameters and metrics, which run produced or read an artifact) without
reading thousands of files. It is

- rebuilt by :func:`rebuild` (``nbtrail index rebuild``), which reports records that fail
  schema validation instead of crashing on them;
- updated by :func:`upsert`, which the runner calls after each record write;
- brought back in step by :func:`ensure`, which every query calls first: it compares the run
  folder names with the indexed run ids and re-reads records still marked ``running`` whose
  file changed, so it costs one directory listing, not one file read per run.

A ``running`` row is never trusted as stored: its status is recomputed on read from the
recorded pid (:func:`nbtrail.records.effective_status`), so a killed runner's run reads as
``interrupted``. Several processes may write at once: every write is one ``BEGIN IMMEDIATE``
transaction through :mod:`nbtrail.db` (WAL, busy timeout).

Tables (all prefixed ``run``; other modules keep their own tables in the same file)::

    runs           one row per valid record: stage, status, pid, times, hashes, git, env
    run_params     run_id, name, value (JSON), num (for numeric comparison)
    run_metrics    run_id, name, value
    run_artifacts  run_id, direction (in/out), name, kind, digest, ref, path, src_stage, src_run_id
    run_problems   run folders whose record is unreadable or fails the schema
    run_index_meta layout version and build time
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbtrail.core import db
from nbtrail.core.errors import NotFound, ParameterError
from nbtrail.core.workspace import Workspace
from nbtrail.runs import records
from nbtrail.runs.record_types import RunRecord

LAYOUT = "1"
TERMINAL = frozenset({"completed", "failed", "interrupted", "cached"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS run_index_meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, stage TEXT NOT NULL, status TEXT NOT NULL, origin TEXT NOT NULL,
    pid INTEGER, started TEXT NOT NULL, ended TEXT, duration_s REAL,
    fingerprint TEXT, cached_from TEXT, reproduces TEXT,
    notebook_path TEXT, notebook_hash TEXT, code_hash TEXT,
    git_commit TEXT, git_dirty INTEGER, python TEXT, lock_hash TEXT, error TEXT,
    mtime_ns INTEGER NOT NULL DEFAULT 0
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
CREATE TABLE IF NOT EXISTS run_problems (
    folder TEXT PRIMARY KEY, path TEXT NOT NULL, problem TEXT NOT NULL,
    mtime_ns INTEGER NOT NULL DEFAULT 0
);
"""
_TABLES = ("runs", "run_params", "run_metrics", "run_artifacts", "run_problems")

_METRIC_FILTER = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(>=|<=|==|!=|>|<|=)\s*(\S+)\s*$")
_SQL_OPS = {">": ">", "<": "<", ">=": ">=", "<=": "<=", "=": "=", "==": "=", "!=": "!="}


@dataclass(frozen=True)
class Problem:
    """A run folder whose record could not be indexed (``problem`` without the path)."""

    path: str
    problem: str

    def __post_init__(self) -> None:
        if self.problem.startswith(self.path + ": "):
            object.__setattr__(self, "problem", self.problem[len(self.path) + 2 :])


@dataclass
class RebuildReport:
    indexed: int = 0
    problems: list[Problem] = field(default_factory=list)


@dataclass
class EnsureReport:
    rebuilt: bool = False
    added: int = 0
    removed: int = 0
    refreshed: int = 0

    @property
    def changed(self) -> bool:
        return self.rebuilt or bool(self.added or self.removed or self.refreshed)


@dataclass(frozen=True)
class RunRow:
    """One run as the index knows it (the full record stays in its run folder)."""

    run_id: str
    stage: str
    status: str
    origin: str
    started: str
    ended: str | None
    duration_s: float | None
    fingerprint: str | None
    cached_from: str | None
    git_commit: str | None
    notebook_hash: str | None
    params: dict[str, Any]
    metrics: dict[str, float | None]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# Connections and layout


def connect(ws: Workspace) -> sqlite3.Connection:
    """The index connection with this module's tables created (layout upgrades drop them)."""
    con = db.connect(ws.index_path)
    if _layout(con) != LAYOUT:
        with db.transaction(con):
            row = _layout(con)  # again, now that we hold the write lock
            if row == LAYOUT:
                return con
            if row is not None:  # an older layout: drop ours, the next ensure() rebuilds
                for t in _TABLES:
                    con.execute(f"DROP TABLE IF EXISTS {t}")
                con.execute("DELETE FROM run_index_meta")
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    con.execute(stmt)
            con.execute(
                "INSERT OR REPLACE INTO run_index_meta (key, value) VALUES ('layout', ?)",
                (LAYOUT,),
            )
    return con


def _layout(con: sqlite3.Connection) -> str | None:
    try:
        row = con.execute("SELECT value FROM run_index_meta WHERE key = 'layout'").fetchone()
    except sqlite3.OperationalError:  # no such table yet
        return None
    return row[0] if row else None


def _mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _delete(con: sqlite3.Connection, run_id: str) -> None:
    for t in ("runs", "run_params", "run_metrics", "run_artifacts"):
        con.execute(f"DELETE FROM {t} WHERE run_id = ?", (run_id,))
    con.execute("DELETE FROM run_problems WHERE folder = ?", (run_id,))


def _insert(con: sqlite3.Connection, rec: Mapping[str, Any], mtime_ns: int) -> None:
    run_id = rec["run_id"]
    nb, git, env = rec["notebook"], rec["git"], rec["environment"]
    err = rec.get("error")
    con.execute(
        "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            run_id,
            rec["stage"],
            rec["status"],
            rec["origin"],
            rec.get("pid"),
            rec["started"],
            rec.get("ended"),
            rec.get("duration_s"),
            rec.get("fingerprint"),
            rec.get("cached_from"),
            rec.get("reproduces"),
            nb.get("path"),
            nb.get("hash"),
            nb.get("code_hash"),
            git.get("commit"),
            None if git.get("dirty") is None else int(git["dirty"]),
            env.get("python"),
            env.get("lock_hash"),
            f"{err['ename']}: {err['evalue']}".splitlines()[0] if err else None,
            mtime_ns,
        ),
    )
    con.executemany(
        "INSERT INTO run_params VALUES (?,?,?,?)",
        [
            (run_id, k, json.dumps(v, sort_keys=True, default=str), _num(v))
            for k, v in rec["params"].items()
        ],
    )
    con.executemany(
        "INSERT INTO run_metrics VALUES (?,?,?)",
        [(run_id, k, v) for k, v in rec["metrics"].items()],
    )
    arts = [("in", a) for a in rec["inputs"]] + [("out", a) for a in rec["outputs"].values()]
    con.executemany(
        "INSERT INTO run_artifacts VALUES (?,?,?,?,?,?,?,?,?)",
        [
            (
                run_id,
                d,
                a["name"],
                a["kind"],
                a["digest"],
                a.get("ref"),
                a.get("path"),
                a.get("stage"),
                a.get("run_id") or (rec["upstream"].get(a["stage"]) if a.get("stage") else None),
            )
            for d, a in arts
        ],
    )


def _put_problem(con: sqlite3.Connection, ws: Workspace, folder: str, problem: str) -> None:
    f = ws.run_dir(folder) / records.RECORD_FILE
    _delete(con, folder)
    con.execute(
        "INSERT INTO run_problems VALUES (?,?,?,?)",
        (folder, ws.relative(f), problem, _mtime_ns(f)),
    )


def _read_one(ws: Workspace, folder: str) -> tuple[dict[str, Any] | None, str | None, int]:
    """One run folder's record, as :func:`records.iter_records` reads it, and its mtime."""
    f = ws.run_dir(folder) / records.RECORD_FILE
    mtime = _mtime_ns(f)
    try:
        rec = json.loads(f.read_text())
        records.validate(rec, where=ws.relative(f))
        if rec["run_id"] != folder:
            raise ValueError(f"{ws.relative(f)}: run_id {rec['run_id']!r} != folder {folder!r}")
    except (ValueError, OSError) as exc:
        return None, str(exc).splitlines()[0], mtime
    rec["status"] = records.effective_status(rec)
    return rec, None, mtime


def _set_built(con: sqlite3.Connection) -> None:
    con.execute(
        "INSERT OR REPLACE INTO run_index_meta (key, value) VALUES ('built', ?)",
        (records.now(),),
    )


# Writing


def rebuild(ws: Workspace) -> RebuildReport:
    """Re-derive the whole index from the run folders; invalid records are reported, not fatal.

    The records are read inside the write transaction, so an :func:`upsert` racing with a
    rebuild waits for it and then lands on top of it; nothing newer is overwritten.
    """
    report = RebuildReport()
    con = connect(ws)
    try:
        with db.transaction(con):
            for t in _TABLES:
                con.execute(f"DELETE FROM {t}")
            for path, rec, problem in records.iter_records(ws):
                folder = path.parent.name
                if rec is not None and rec["run_id"] != folder:
                    rec, problem = None, f"{ws.relative(path)}: run_id does not match its folder"
                if rec is None:
                    _put_problem(con, ws, folder, problem or "unreadable")
                    report.problems.append(Problem(ws.relative(path), problem or "unreadable"))
                    continue
                _insert(con, rec, _mtime_ns(path))
                report.indexed += 1
            _set_built(con)
            con.execute("DELETE FROM run_index_meta WHERE key = 'runs_dir_mtime'")
    finally:
        con.close()
    return report


@contextmanager
def held_open(ws: Workspace) -> Iterator[sqlite3.Connection]:
    """Hold one index connection open around many writes (a whole pipeline run).

    SQLite checkpoints the WAL, with an fsync, whenever the *last* connection to the file
    closes; each :func:`upsert` on its own pays that (20-170 ms on the shared test machine).
    While this connection is open, upserts skip it and the checkpoint happens once, here.
    """
    con = connect(ws)
    try:
        yield con
    finally:
        con.close()


def upsert(ws: Workspace, record: Mapping[str, Any]) -> None:
    """Index (or re-index) one record; the runner calls this after each record write
    (inside :func:`held_open` when it writes several)."""
    records.validate(dict(record), where=f"run {record.get('run_id')}")
    mtime = _mtime_ns(ws.run_dir(record["run_id"]) / records.RECORD_FILE)
    con = connect(ws)
    try:
        with db.transaction(con):
            _delete(con, record["run_id"])
            _insert(con, record, mtime)
    finally:
        con.close()


def ensure(ws: Workspace) -> EnsureReport:
    """Bring the index in step with the run folders, cheaply; rebuild it when missing.

    Folders added or removed are found by listing ``workspace/runs`` (skipped while the
    folder's mtime equals the one remembered at the last full check, remembered only when
    it was over two seconds old and every run folder had its record, so a change within the
    clock's granularity is never missed). Records still marked ``running``, and invalid ones,
    are re-read when their file changed: finished records are immutable, so they are not.
    ``nbtrail index rebuild`` re-reads everything (use it after editing records by hand).
    """
    con = connect(ws)
    try:
        meta = dict(con.execute("SELECT key, value FROM run_index_meta").fetchall())
        if "built" not in meta:
            con.close()
            rebuild(ws)
            return EnsureReport(rebuilt=True)
        dir_mtime = _mtime_ns(ws.runs_dir)
        problems = {r[0]: r[1] for r in con.execute("SELECT folder, mtime_ns FROM run_problems")}
        added: list[str] = []
        removed: set[str] = set()
        remember: str | None = meta.get("runs_dir_mtime")
        if not dir_mtime or meta.get("runs_dir_mtime") != str(dir_mtime):
            on_disk = _run_folders(ws)
            known = {r[0] for r in con.execute("SELECT run_id FROM runs")} | problems.keys()
            pending = list(on_disk - known)
            added = [f for f in pending if (ws.run_dir(f) / records.RECORD_FILE).is_file()]
            removed = known - on_disk
            settled = time.time_ns() - dir_mtime > 2_000_000_000 and len(added) == len(pending)
            remember = str(dir_mtime) if dir_mtime and settled else None
        stale = [
            run_id
            for run_id, mtime in con.execute(
                "SELECT run_id, mtime_ns FROM runs WHERE status = 'running'"
            )
            if _mtime_ns(ws.run_dir(run_id) / records.RECORD_FILE) != mtime
        ]
        stale += [
            f
            for f, mtime in problems.items()
            if f not in removed and _mtime_ns(ws.run_dir(f) / records.RECORD_FILE) != mtime
        ]
        report = EnsureReport(added=len(added), removed=len(removed), refreshed=len(stale))
        if not report.changed and remember == meta.get("runs_dir_mtime"):
            return report
        with db.transaction(con):
            for f in removed:
                _delete(con, f)
            for f in [*added, *stale]:
                rec, problem, mtime = _read_one(ws, f)
                if rec is None:
                    _put_problem(con, ws, f, problem or "unreadable")
                else:
                    _delete(con, f)
                    _insert(con, rec, mtime)
            if remember is None:
                con.execute("DELETE FROM run_index_meta WHERE key = 'runs_dir_mtime'")
            else:
                con.execute(
                    "INSERT OR REPLACE INTO run_index_meta VALUES ('runs_dir_mtime', ?)",
                    (remember,),
                )
        return report
    finally:
        con.close()


def _run_folders(ws: Workspace) -> set[str]:
    try:
        with os.scandir(ws.runs_dir) as it:
            return {e.name for e in it if not e.name.startswith(".") and e.is_dir()}
    except FileNotFoundError:
        return set()


# Reading


def _live_status(status: str, pid: int | None) -> str:
    if status != "running":
        return status
    return records.effective_status({"status": status, "pid": pid})


def problems(ws: Workspace) -> list[Problem]:
    """Run folders whose record the index could not read (as of the last ensure/rebuild)."""
    con = connect(ws)
    try:
        rows = con.execute("SELECT path, problem FROM run_problems ORDER BY folder").fetchall()
    finally:
        con.close()
    return [Problem(r[0], r[1]) for r in rows]


def parse_metric_filter(text: str) -> tuple[str, str, float]:
    """``"roc_auc>0.9"`` -> ``("roc_auc", ">", 0.9)``; a bad filter is a ParameterError."""
    m = _METRIC_FILTER.match(text)
    if not m:
        raise ParameterError(
            f"bad metric filter {text!r}", hint="write NAME>VALUE (>, <, >=, <=, =, !=)"
        )
    try:
        value = float(m.group(3))
    except ValueError:
        raise ParameterError(
            f"bad metric filter {text!r}: {m.group(3)!r} is not a number",
            hint="write NAME>VALUE (>, <, >=, <=, =, !=)",
        ) from None
    return m.group(1), _SQL_OPS[m.group(2)], value


def query_runs(
    ws: Workspace,
    *,
    stage: str | None = None,
    status: str | None = None,
    params: Mapping[str, Any] | None = None,
    metrics: Iterable[str | tuple[str, str, float]] = (),
    sort_by: str | None = None,
    ascending: bool = False,
    limit: int | None = None,
    origin: str | None = None,
) -> list[RunRow]:
    """Runs matching every filter, newest first (or by ``sort_by`` metric, best first).

    ``params`` compares numbers numerically (``{"C": 1}`` matches ``1.0``) and other values
    by their JSON form; ``metrics`` holds filters like ``"roc_auc>0.9"``. Runs lacking the
    sort metric come last.
    """
    ensure(ws)
    where: list[str] = []
    args: list[Any] = []
    if stage:
        where.append("r.stage = ?")
        args.append(stage)
    if origin:
        where.append("r.origin = ?")
        args.append(origin)
    # a stored `running` may really be interrupted: filter those in Python after reading
    post_status = status in ("running", "interrupted")
    if status == "running":
        where.append("r.status = 'running'")
    elif status == "interrupted":
        where.append("r.status IN ('running', 'interrupted')")
    elif status:
        where.append("r.status = ?")
        args.append(status)
    for name, value in (params or {}).items():
        num = _num(value)
        if num is not None:
            where.append(
                "EXISTS (SELECT 1 FROM run_params p WHERE p.run_id = r.run_id"
                " AND p.name = ? AND p.num = ?)"
            )
            args += [name, num]
        else:
            where.append(
                "EXISTS (SELECT 1 FROM run_params p WHERE p.run_id = r.run_id"
                " AND p.name = ? AND p.value = ?)"
            )
            args += [name, json.dumps(value, sort_keys=True, default=str)]
    for flt in metrics:
        name, op, value = parse_metric_filter(flt) if isinstance(flt, str) else flt
        op = _SQL_OPS[op]
        where.append(
            "EXISTS (SELECT 1 FROM run_metrics m WHERE m.run_id = r.run_id"
            f" AND m.name = ? AND m.value {op} ?)"
        )
        args += [name, value]
    sql = "SELECT r.run_id, r.stage, r.status, r.pid, r.origin, r.started, r.ended,"
    sql += " r.duration_s, r.fingerprint, r.cached_from, r.git_commit, r.notebook_hash FROM runs r"
    if sort_by:
        sql += " LEFT JOIN run_metrics s ON s.run_id = r.run_id AND s.name = ?"
        args.insert(0, sort_by)
    if where:
        sql += " WHERE " + " AND ".join(where)
    order = "ASC" if ascending else "DESC"
    if sort_by:
        sql += f" ORDER BY s.value IS NULL, s.value {order}, r.started DESC"
    else:
        sql += f" ORDER BY r.started {order}, r.run_id {order}"
    if limit is not None and not post_status:
        sql += " LIMIT ?"
        args.append(int(limit))
    con = connect(ws)
    try:
        rows = []
        for r in con.execute(sql, args):
            live = _live_status(r["status"], r["pid"])
            if post_status and live != status:
                continue
            rows.append((r, live))
            if limit is not None and len(rows) >= limit:
                break
        ids = [r["run_id"] for r, _ in rows]
        params_of, metrics_of = _details(con, ids)
    finally:
        con.close()
    return [
        RunRow(
            run_id=r["run_id"],
            stage=r["stage"],
            status=live,
            origin=r["origin"],
            started=r["started"],
            ended=r["ended"],
            duration_s=r["duration_s"],
            fingerprint=r["fingerprint"],
            cached_from=r["cached_from"],
            git_commit=r["git_commit"],
            notebook_hash=r["notebook_hash"],
            params=params_of.get(r["run_id"], {}),
            metrics=metrics_of.get(r["run_id"], {}),
        )
        for r, live in rows
    ]


def _details(
    con: sqlite3.Connection, ids: list[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, float | None]]]:
    params: dict[str, dict[str, Any]] = {}
    metrics: dict[str, dict[str, float | None]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        q = f"SELECT run_id, name, value FROM run_params WHERE run_id IN ({marks})"
        for run_id, name, value in con.execute(q, chunk):
            params.setdefault(run_id, {})[name] = json.loads(value)
        q = f"SELECT run_id, name, value FROM run_metrics WHERE run_id IN ({marks})"
        for run_id, name, value in con.execute(q, chunk):
            metrics.setdefault(run_id, {})[name] = value
    return params, metrics


def resolve_run_id(ws: Workspace, ref: str, *, ensure_first: bool = True) -> str:
    """A run id from an exact id, a stage name (its latest completed run), ``STAGE~N`` (the
    completed run N before that one) or a unique prefix."""
    if ensure_first:
        ensure(ws)
    con = connect(ws)
    try:
        if con.execute("SELECT 1 FROM runs WHERE run_id = ?", (ref,)).fetchone():
            return ref
        stage, tilde, back = ref.partition("~")
        if tilde and back.isdigit():
            row = con.execute(
                "SELECT run_id FROM runs WHERE stage = ? AND status = 'completed'"
                " ORDER BY started DESC LIMIT 1 OFFSET ?",
                (stage, int(back)),
            ).fetchone()
            if row:
                return row[0]
            raise NotFound(f"stage {stage!r} has no completed run {back} before its latest")
        row = con.execute(
            "SELECT run_id FROM runs WHERE stage = ?"
            " ORDER BY status = 'completed' DESC, started DESC LIMIT 1",
            (ref,),
        ).fetchone()
        if row:
            return row[0]
        hits = [
            r[0]
            for r in con.execute(
                "SELECT run_id FROM runs WHERE run_id >= ? AND run_id < ? LIMIT 3",
                (ref, ref + "\uffff"),
            )
        ]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise NotFound(f"run {ref!r} is ambiguous", hint=f"e.g. {', '.join(hits[:2])}")
        if con.execute("SELECT 1 FROM run_problems WHERE folder = ?", (ref,)).fetchone():
            raise NotFound(f"run {ref!r} has an invalid record", hint="see `nbtrail index rebuild`")
    finally:
        con.close()
    raise NotFound(f"no run {ref!r}", hint="see `nbtrail runs`")


def get_run(ws: Workspace, run_id: str) -> RunRecord:
    """The full record of a run (id, unique prefix or stage name), status as it is now."""
    return records.load(ws, resolve_run_id(ws, run_id))


def _output_exists(ws: Workspace, art: sqlite3.Row) -> bool:
    from nbtrail.data.store import ObjectStore

    if art["path"]:
        p = Path(art["path"])
        return (p if p.is_absolute() else ws.root / p).is_file()
    if art["kind"] == "dataset":
        try:
            return ObjectStore(ws.objects_dir).exists(art["digest"])
        except ValueError:
            return False
    return False


def find_cached(ws: Workspace, stage: str, fingerprint: str) -> str | None:
    """The latest completed, non-interactive run of ``stage`` with ``fingerprint`` whose
    outputs still exist, or None."""
    ensure(ws)
    con = connect(ws)
    try:
        candidates = con.execute(
            "SELECT run_id FROM runs WHERE stage = ? AND fingerprint = ?"
            " AND status = 'completed' AND origin != 'interactive'"
            " ORDER BY started DESC, run_id DESC",
            (stage, fingerprint),
        ).fetchall()
        for (run_id,) in candidates:
            outs = con.execute(
                "SELECT kind, digest, path FROM run_artifacts WHERE run_id = ? AND direction = 'out'",
                (run_id,),
            ).fetchall()
            if all(_output_exists(ws, a) for a in outs):
                return run_id
    finally:
        con.close()
    return None
