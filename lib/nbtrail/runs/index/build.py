"""Writing the run index: one record's rows, a record re-indexed (:func:`upsert`), and the whole
index re-derived from the run folders (:func:`rebuild`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbtrail.core import db
from nbtrail.core.workspace import Workspace
from nbtrail.runs import records
from nbtrail.runs.index.schema import TABLES, connect


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


def file_mtime_ns(path: Path) -> int:
    """The file's mtime in nanoseconds (0 when it is missing)."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def number(value: Any) -> float | None:
    """A parameter value as a number for numeric comparison (None for non-numbers, bools)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def delete_run(con: sqlite3.Connection, run_id: str) -> None:
    """Every row of ``run_id`` (and its problem, if any)."""
    for t in ("runs", "run_params", "run_metrics", "run_artifacts", "run_sweeps"):
        con.execute(f"DELETE FROM {t} WHERE run_id = ?", (run_id,))
    con.execute("DELETE FROM run_problems WHERE folder = ?", (run_id,))


def insert_record(con: sqlite3.Connection, rec: Mapping[str, Any], mtime_ns: int) -> None:
    """The rows of one valid record: the run, its parameters, metrics and artifacts."""
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
            (run_id, k, json.dumps(v, sort_keys=True, default=str), number(v))
            for k, v in rec["params"].items()
        ],
    )
    con.executemany(
        "INSERT INTO run_metrics VALUES (?,?,?)",
        [(run_id, k, v) for k, v in rec["metrics"].items()],
    )
    sweep = rec.get("extra", {}).get("sweep")
    if isinstance(sweep, dict) and sweep.get("id"):
        con.execute(
            "INSERT INTO run_sweeps VALUES (?,?,?)", (run_id, sweep["id"], sweep.get("member"))
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


def put_problem(con: sqlite3.Connection, ws: Workspace, folder: str, problem: str) -> None:
    """Note a run folder whose record cannot be indexed (replacing its rows)."""
    f = ws.run_dir(folder) / records.RECORD_FILE
    delete_run(con, folder)
    con.execute(
        "INSERT INTO run_problems VALUES (?,?,?,?)",
        (folder, ws.relative(f), problem, file_mtime_ns(f)),
    )


def read_folder(ws: Workspace, folder: str) -> tuple[dict[str, Any] | None, str | None, int]:
    """One run folder's record, as :func:`records.iter_records` reads it, and its mtime."""
    f = ws.run_dir(folder) / records.RECORD_FILE
    mtime = file_mtime_ns(f)
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


def rebuild(ws: Workspace) -> RebuildReport:
    """Re-derive the whole index from the run folders; invalid records are reported, not fatal.

    The records are read inside the write transaction, so an :func:`upsert` racing with a
    rebuild waits for it and then lands on top of it; nothing newer is overwritten.
    """
    report = RebuildReport()
    con = connect(ws)
    try:
        with db.transaction(con):
            for t in TABLES:
                con.execute(f"DELETE FROM {t}")
            for path, rec, problem in records.iter_records(ws):
                folder = path.parent.name
                if rec is not None and rec["run_id"] != folder:
                    rec, problem = None, f"{ws.relative(path)}: run_id does not match its folder"
                if rec is None:
                    put_problem(con, ws, folder, problem or "unreadable")
                    report.problems.append(Problem(ws.relative(path), problem or "unreadable"))
                    continue
                insert_record(con, rec, file_mtime_ns(path))
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
    mtime = file_mtime_ns(ws.run_dir(record["run_id"]) / records.RECORD_FILE)
    con = connect(ws)
    try:
        with db.transaction(con):
            delete_run(con, record["run_id"])
            insert_record(con, record, mtime)
    finally:
        con.close()
