"""Writing the run index: one record's rows, a record re-indexed (:func:`upsert`), and the whole
index re-derived from the run folders (:func:`rebuild`).

A record is validated against its schema when it is written (:func:`records.write`) and when
it is first indexed. :func:`rebuild` trusts but checks: a record file whose size and mtime are
those the index last validated gets only the cheap check of the fields the index reads
(:func:`records.check_shape`); any other one is validated in full. ``verify=True`` validates
every record in full (``nbtrail index rebuild --verify``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbtrail.core import db
from nbtrail.core.workspace import Workspace
from nbtrail.runs import records
from nbtrail.runs.index.files import file_problems
from nbtrail.runs.index.schema import INDEXES, TABLES, connect, create_indexes


@dataclass(frozen=True)
class Problem:
    """A run folder with something wrong: its record could not be indexed (``listed`` False),
    or it is indexed but files it names are missing or malformed (``listed`` True)."""

    path: str
    problem: str
    listed: bool = False

    def __post_init__(self) -> None:
        if self.problem.startswith(self.path + ": "):
            object.__setattr__(self, "problem", self.problem[len(self.path) + 2 :])


@dataclass
class RebuildReport:
    indexed: int = 0
    problems: list[Problem] = field(default_factory=list)
    validated: int = 0  # records validated in full (the rest: unchanged, shape checked)


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
    """Every row of ``run_id`` (and its problems, if any)."""
    for t in ("runs", "run_params", "run_metrics", "run_artifacts", "run_sweeps"):
        con.execute(f"DELETE FROM {t} WHERE run_id = ?", (run_id,))
    con.execute("DELETE FROM run_problems WHERE folder = ?", (run_id,))


@dataclass
class Rows:
    """The rows of many records, inserted table by table (``executemany`` each)."""

    runs: list[tuple[Any, ...]] = field(default_factory=list)
    params: list[tuple[Any, ...]] = field(default_factory=list)
    metrics: list[tuple[Any, ...]] = field(default_factory=list)
    sweeps: list[tuple[Any, ...]] = field(default_factory=list)
    artifacts: list[tuple[Any, ...]] = field(default_factory=list)
    problems: list[tuple[Any, ...]] = field(default_factory=list)

    def add(
        self, rec: Mapping[str, Any], mtime_ns: int, size: int, notebook_stat: str | None = None
    ) -> None:
        """One valid record's rows (``mtime_ns``, ``size``: its file's; ``notebook_stat``:
        its executed notebook's ``mtime_ns:size`` when that was found sound). A record that
        does not fit (a hand-edited one that kept its size and mtime) raises ``KeyError``,
        ``TypeError`` or ``AttributeError`` and adds nothing."""
        run_id = rec["run_id"]
        nb, git, env = rec["notebook"], rec["git"], rec["environment"]
        err = rec.get("error")
        run = (
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
            size,
            notebook_stat,
        )
        params = [
            (run_id, k, json.dumps(v, sort_keys=True, default=str), number(v))
            for k, v in rec["params"].items()
        ]
        metrics = [(run_id, k, v) for k, v in rec["metrics"].items()]
        sweep = rec.get("extra", {}).get("sweep")
        sweeps = (
            [(run_id, sweep["id"], sweep.get("member"))]
            if isinstance(sweep, dict) and sweep.get("id")
            else []
        )
        upstream = rec["upstream"]
        arts = [("in", a) for a in rec["inputs"]] + [("out", a) for a in rec["outputs"].values()]
        artifacts = [
            (
                run_id,
                d,
                a["name"],
                a["kind"],
                a["digest"],
                a.get("ref"),
                a.get("path"),
                a.get("stage"),
                a.get("run_id") or (upstream.get(a["stage"]) if a.get("stage") else None),
            )
            for d, a in arts
        ]
        self.runs.append(run)
        self.params += params
        self.metrics += metrics
        self.sweeps += sweeps
        self.artifacts += artifacts

    def problem(self, folder: str, path: str, problem: str, mtime_ns: int, listed: bool) -> None:
        self.problems.append((folder, path, problem, mtime_ns, int(listed)))

    def insert(self, con: sqlite3.Connection) -> None:
        con.executemany(f"INSERT INTO runs VALUES ({','.join('?' * 22)})", self.runs)
        con.executemany("INSERT INTO run_params VALUES (?,?,?,?)", self.params)
        con.executemany("INSERT INTO run_metrics VALUES (?,?,?)", self.metrics)
        con.executemany("INSERT INTO run_sweeps VALUES (?,?,?)", self.sweeps)
        con.executemany("INSERT INTO run_artifacts VALUES (?,?,?,?,?,?,?,?,?)", self.artifacts)
        con.executemany("INSERT OR REPLACE INTO run_problems VALUES (?,?,?,?,?)", self.problems)


def insert_record(
    con: sqlite3.Connection, ws: Workspace, rec: Mapping[str, Any], mtime_ns: int, size: int
) -> None:
    """The rows of one valid record (the run, parameters, metrics, artifacts) and the
    problems of the files it names."""
    rows = Rows()
    runs_rel = ws.relative(ws.runs_dir)
    check = file_problems(str(ws.root), runs_rel, rec)
    rows.add(rec, mtime_ns, size, check.notebook_stat)
    where = record_where(ws, rec["run_id"], runs_rel)
    for problem in check.problems:
        rows.problem(rec["run_id"], where, problem, mtime_ns, listed=True)
    rows.insert(con)


def put_problem(con: sqlite3.Connection, ws: Workspace, folder: str, problem: str) -> None:
    """Note a run folder whose record cannot be indexed (replacing its rows)."""
    f = ws.run_dir(folder) / records.RECORD_FILE
    delete_run(con, folder)
    con.execute(
        "INSERT INTO run_problems VALUES (?,?,?,?,0)",
        (folder, ws.relative(f), problem, file_mtime_ns(f)),
    )


@dataclass(frozen=True)
class Read:
    """One run folder's record as read from disk: the record, or the problem with it."""

    record: dict[str, Any] | None
    problem: str | None
    mtime_ns: int
    size: int


def record_where(ws: Workspace, folder: str, runs_rel: str | None = None) -> str:
    """``workspace/runs/<folder>/record.json`` as messages name it (``runs_rel``: the runs
    folder relative to the root, computed once by a caller that names many)."""
    return f"{runs_rel or ws.relative(ws.runs_dir)}/{folder}/{records.RECORD_FILE}"


def read_folder(
    ws: Workspace,
    folder: str,
    *,
    trusted: tuple[int, int] | None = None,
    runs_rel: str | None = None,
    runs_dir: str | None = None,
    decode: Any = None,
) -> Read:
    """One run folder's record, validated in full unless its file's (mtime_ns, size) is
    ``trusted`` (then only its shape is checked); never raises on a bad file. ``decode``
    turns bytes into JSON (:func:`decoder`; made here when not given); ``runs_rel`` and
    ``runs_dir`` are the runs folder relative to the root and absolute, from a caller that
    reads many."""
    f = f"{runs_dir or ws.runs_dir}/{folder}/{records.RECORD_FILE}"
    where = record_where(ws, folder, runs_rel)
    try:
        fh = open(f, "rb")  # noqa: SIM115 (closed below; fstat needs it open)
    except OSError:
        return Read(None, f"{where}: missing (the run folder has no record)", 0, 0)
    try:
        with fh:
            st = os.fstat(fh.fileno())
            data = fh.read()
    except OSError as exc:
        return Read(None, f"{where}: unreadable ({exc.strerror})", 0, 0)
    try:
        rec = (decode or decoder())(data)
        if not isinstance(rec, dict):
            raise records.RecordInvalid(f"{where}: not a JSON object")
        if trusted == (st.st_mtime_ns, st.st_size):
            records.check_shape(rec, where=where)
        else:
            records.validate(rec, where=where)
        if rec["run_id"] != folder:
            raise records.RecordInvalid(
                f"{where}: run_id {rec['run_id']!r} does not match its folder"
            )
    except (ValueError, OSError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, ValueError) and not isinstance(exc, records.RecordInvalid):
            text = f"{where}: not JSON ({text})"
        return Read(None, text, st.st_mtime_ns, st.st_size)
    if rec["status"] == "running":
        rec["status"] = records.effective_status(rec)
    return Read(rec, None, st.st_mtime_ns, st.st_size)


def decoder() -> Any:
    """bytes -> JSON value: msgspec's decoder (2-3x faster than :func:`json.loads`), falling
    back to ``json`` for what msgspec refuses but Python writes (``NaN``, ``Infinity``).
    Both raise a ``ValueError`` on bytes that are not JSON."""
    import msgspec

    fast = msgspec.json.Decoder()

    def decode(data: bytes) -> Any:
        try:
            return fast.decode(data)
        except msgspec.DecodeError:
            return json.loads(data)

    return decode


# a run folder without its record for longer than this is reported; a younger one is one the
# runner is filling in (it makes the folder, copies the notebook, then writes the record)
BEING_MADE_NS = 10_000_000_000


def being_made(ws: Workspace, folder: str) -> bool:
    """True for a run folder made in the last few seconds that has no record yet."""
    try:
        return (
            time.time_ns() - os.stat(os.path.join(ws.runs_dir, folder)).st_mtime_ns < BEING_MADE_NS
        )
    except OSError:
        return True  # gone meanwhile


def run_folders(ws: Workspace) -> list[str]:
    """The names of the run folders, sorted (hidden ones, such as temporary files, left out)."""
    try:
        with os.scandir(ws.runs_dir) as it:
            return sorted(e.name for e in it if not e.name.startswith(".") and e.is_dir())
    except FileNotFoundError:
        return []


def _set_built(con: sqlite3.Connection) -> None:
    con.execute(
        "INSERT OR REPLACE INTO run_index_meta (key, value) VALUES ('built', ?)",
        (records.now(),),
    )


@db.recovering
def rebuild(ws: Workspace, *, verify: bool = False) -> RebuildReport:
    """Re-derive the whole index from the run folders; bad records are reported, not fatal.

    The records are read inside the write transaction, so an :func:`upsert` racing with a
    rebuild waits for it and then lands on top of it; nothing newer is overwritten. Readers
    see the old index or the new one, never a mix (one transaction, WAL).
    """
    report = RebuildReport()
    con = connect(ws)
    try:
        with db.transaction(con):
            known: dict[str, tuple[int, int, str | None]] = {}
            if not verify:
                known = {r[0]: (r[1], r[2], r[3]) for r in con.execute(_VALIDATED)}
            for t in TABLES:
                con.execute(f"DELETE FROM {t}")
            for name in INDEXES:  # re-made once after the inserts: faster than kept up
                con.execute(f"DROP INDEX IF EXISTS {name}")
            rows = Rows()
            runs_rel, root, decode = ws.relative(ws.runs_dir), str(ws.root), decoder()
            runs_dir = str(ws.runs_dir)
            for folder in run_folders(ws):
                mtime, size, sound = known.get(folder, (0, 0, None))
                got = read_folder(
                    ws,
                    folder,
                    trusted=(mtime, size),
                    runs_rel=runs_rel,
                    runs_dir=runs_dir,
                    decode=decode,
                )
                f = record_where(ws, folder, runs_rel)
                if got.record is None:
                    if not got.mtime_ns and being_made(ws, folder):
                        continue
                    problem = got.problem or "unreadable"
                    rows.problem(folder, f, problem, got.mtime_ns, listed=False)
                    report.problems.append(Problem(f, problem))
                    continue
                check = file_problems(root, runs_rel, got.record, sound)
                try:
                    rows.add(got.record, got.mtime_ns, got.size, check.notebook_stat)
                except (KeyError, TypeError, AttributeError) as exc:
                    problem = f"{f}: invalid: {type(exc).__name__} {exc}"
                    rows.problem(folder, f, problem, got.mtime_ns, listed=False)
                    report.problems.append(Problem(f, problem))
                    continue
                for problem in check.problems:
                    rows.problem(folder, f, problem, got.mtime_ns, listed=True)
                    report.problems.append(Problem(f, problem, listed=True))
                report.indexed += 1
                report.validated += (mtime, size) != (got.mtime_ns, got.size)
            rows.insert(con)
            create_indexes(con)
            _set_built(con)
            con.execute("DELETE FROM run_index_meta WHERE key = 'runs_dir_mtime'")
    finally:
        con.close()
    return report


# a record indexed with a size was validated in full when it was (or its shape was checked
# and its file had not changed since a full validation)
_VALIDATED = "SELECT run_id, mtime_ns, size, notebook_stat FROM runs WHERE size > 0"


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


@db.recovering
def upsert(ws: Workspace, record: Mapping[str, Any]) -> None:
    """Index (or re-index) one record; the runner calls this after each record write
    (inside :func:`held_open` when it writes several)."""
    records.validate(dict(record), where=f"run {record.get('run_id')}")
    try:
        st = os.stat(ws.run_dir(record["run_id"]) / records.RECORD_FILE)
        mtime, size = st.st_mtime_ns, st.st_size
    except OSError:
        mtime, size = 0, 0
    con = connect(ws)
    try:
        with db.transaction(con):
            delete_run(con, record["run_id"])
            insert_record(con, ws, record, mtime, size)
    finally:
        con.close()
