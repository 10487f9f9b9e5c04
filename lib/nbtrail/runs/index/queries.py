"""Reading the run index: listings and filters on parameters and metrics, run references
resolved, and the folders whose record could not be indexed."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

from nbtrail.core import db
from nbtrail.core.errors import NotFound, ParameterError
from nbtrail.core.workspace import Workspace
from nbtrail.runs import records
from nbtrail.runs.index.build import Problem, number
from nbtrail.runs.index.ensure import ensure
from nbtrail.runs.index.schema import connect
from nbtrail.runs.record_types import RunRecord
from nbtrail.runs.refs import MAX_BACK, check_run_ref

_METRIC_FILTER = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(>=|<=|==|!=|>|<|=)\s*(\S+)\s*$")
_SQL_OPS = {">": ">", "<": "<", ">=": ">=", "<=": "<=", "=": "=", "==": "=", "!=": "!="}


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


def _live_status(status: str, pid: int | None) -> str:
    if status != "running":
        return status
    return records.effective_status({"status": status, "pid": pid})


@db.recovering
def problems(ws: Workspace) -> list[Problem]:
    """Run folders whose record the index could not read (``listed`` False), and indexed
    runs whose files are missing or malformed (``listed`` True), as of the last
    ensure/rebuild."""
    con = connect(ws)
    try:
        rows = con.execute(
            "SELECT path, problem, listed FROM run_problems ORDER BY folder, problem"
        ).fetchall()
    finally:
        con.close()
    return [Problem(r[0], r[1], bool(r[2])) for r in rows]


def parse_metric_filter(text: str) -> tuple[str, str, float]:
    """``"roc_auc>0.9"`` -> ``("roc_auc", ">", 0.9)``; a bad filter is a ParameterError."""
    m = _METRIC_FILTER.match(text)
    if not m:
        raise ParameterError(
            f"bad metric filter {text!r}", hint="write NAME>VALUE (>, <, >=, <=, =, !=)"
        )
    try:
        value = float(m.group(3))
        if value != value:
            raise ValueError("nan")  # compares false with everything: no run would match
    except ValueError:
        raise ParameterError(
            f"bad metric filter {text!r}: {m.group(3)!r} is not a number",
            hint="write NAME>VALUE (>, <, >=, <=, =, !=)",
        ) from None
    return m.group(1), _SQL_OPS[m.group(2)], value


@dataclass(frozen=True)
class RunPage:
    """The first runs matching a query (details read for these only) and how many match."""

    rows: list[RunRow]
    total: int


def parse_param_filters(items: Iterable[str]) -> dict[str, Any]:
    """``["C=0.5", "model=linear"]`` -> ``{"C": 0.5, "model": "linear"}`` (values as JSON
    when they parse, else text), as ``nbtrail runs --param`` reads them."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"bad --param {item!r}", hint="write NAME=VALUE")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def _where(
    stage: str | None,
    status: str | None,
    params: Mapping[str, Any] | None,
    metrics: Iterable[str | tuple[str, str, float]],
    origin: str | None,
    sweep: str | None = None,
) -> tuple[list[str], list[Any]]:
    """The WHERE terms (and their arguments) of a run query's filters."""
    where: list[str] = []
    args: list[Any] = []
    if stage:
        where.append("r.stage = ?")
        args.append(stage)
    if origin:
        where.append("r.origin = ?")
        args.append(origin)
    if sweep:
        where.append("r.run_id IN (SELECT run_id FROM run_sweeps WHERE sweep_id = ?)")
        args.append(sweep)
    # a stored `running` may really be interrupted: those are filtered in Python after reading
    if status == "running":
        where.append("r.status = 'running'")
    elif status == "interrupted":
        where.append("r.status IN ('running', 'interrupted')")
    elif status:
        where.append("r.status = ?")
        args.append(status)
    for name, value in (params or {}).items():
        num = number(value)
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
    return where, args


def _select(
    con: sqlite3.Connection,
    where: list[str],
    args: list[Any],
    *,
    status: str | None,
    sort_by: str | None,
    ascending: bool,
    limit: int | None,
) -> list[tuple[sqlite3.Row, str]]:
    """The matching rows in order, each with its live status (at most ``limit``)."""
    post_status = status in ("running", "interrupted")
    args = list(args)
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
    rows = []
    for r in con.execute(sql, args):
        live = _live_status(r["status"], r["pid"])
        if post_status and live != status:
            continue
        rows.append((r, live))
        if limit is not None and len(rows) >= limit:
            break
    return rows


def _run_rows(con: sqlite3.Connection, rows: list[tuple[sqlite3.Row, str]]) -> list[RunRow]:
    params_of, metrics_of = _details(con, [r["run_id"] for r, _ in rows])
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


@db.recovering
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
    sweep: str | None = None,
) -> list[RunRow]:
    """Runs matching every filter, newest first (or by ``sort_by`` metric, best first).

    ``params`` compares numbers numerically (``{"C": 1}`` matches ``1.0``) and other values
    by their JSON form; ``metrics`` holds filters like ``"roc_auc>0.9"``; ``sweep`` keeps
    the runs a sweep's members executed (``extra.sweep.id`` of their records). Runs lacking
    the sort metric come last.
    """
    ensure(ws)
    where, args = _where(stage, status, params, metrics, origin, sweep)
    con = connect(ws)
    try:
        rows = _select(
            con, where, args, status=status, sort_by=sort_by, ascending=ascending, limit=limit
        )
        return _run_rows(con, rows)
    finally:
        con.close()


class RunQuery(TypedDict, total=False):
    """:func:`query_runs`' filters and sort, as keywords (:func:`query_page` takes them)."""

    stage: str | None
    status: str | None
    params: Mapping[str, Any] | None
    metrics: Iterable[str | tuple[str, str, float]]
    sort_by: str | None
    ascending: bool
    origin: str | None
    sweep: str | None


@db.recovering
def query_page(ws: Workspace, *, limit: int = 20, **query: Unpack[RunQuery]) -> RunPage:
    """:func:`query_runs`' first ``limit`` runs, and how many runs match in all (a count,
    not a read of every match: the run browser redraws this on every filter change)."""
    ensure(ws)
    status, sort_by = query.get("status"), query.get("sort_by")
    ascending = query.get("ascending", False)
    where, args = _where(
        query.get("stage"),
        status,
        query.get("params"),
        query.get("metrics", ()),
        query.get("origin"),
        query.get("sweep"),
    )
    con = connect(ws)
    try:
        if status in ("running", "interrupted"):
            matching = _select(
                con, where, args, status=status, sort_by=None, ascending=False, limit=None
            )
            total = len(matching)
        else:
            sql = "SELECT COUNT(*) FROM runs r" + (" WHERE " + " AND ".join(where) if where else "")
            total = con.execute(sql, args).fetchone()[0]
        rows = _select(
            con, where, args, status=status, sort_by=sort_by, ascending=ascending, limit=limit
        )
        return RunPage(_run_rows(con, rows), total)
    finally:
        con.close()


@db.recovering
def stage_metrics(ws: Workspace, stage: str | None = None) -> list[str]:
    """The metric names runs (of ``stage``) logged, sorted."""
    ensure(ws)
    con = connect(ws)
    try:
        if stage:
            q = (
                "SELECT DISTINCT m.name FROM run_metrics m JOIN runs r ON r.run_id = m.run_id"
                " WHERE r.stage = ? ORDER BY m.name"
            )
            return [r[0] for r in con.execute(q, (stage,))]
        return [r[0] for r in con.execute("SELECT DISTINCT name FROM run_metrics ORDER BY name")]
    finally:
        con.close()


@db.recovering
def stage_names(ws: Workspace) -> list[str]:
    """The stages the index has runs of, sorted."""
    ensure(ws)
    con = connect(ws)
    try:
        return [r[0] for r in con.execute("SELECT DISTINCT stage FROM runs ORDER BY stage")]
    finally:
        con.close()


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


@db.recovering
def resolve_run_id(ws: Workspace, ref: str, *, ensure_first: bool = True) -> str:
    """A run id from an exact id, a stage name (its latest completed run), ``STAGE~N`` (the
    completed run N before that one) or a unique prefix. A ref that cannot be any of these is
    :class:`NotFound` before the index is opened (:func:`nbtrail.runs.refs.check_run_ref`)."""
    check_run_ref(ref)
    if ensure_first:
        ensure(ws)
    con = connect(ws)
    try:
        if con.execute("SELECT 1 FROM runs WHERE run_id = ?", (ref,)).fetchone():
            return ref
        stage, tilde, back = ref.partition("~")
        if tilde and back.isdigit():
            if int(back) > MAX_BACK:
                raise NotFound(f"stage {stage!r} has no completed run {back} before its latest")
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
        if con.execute(
            "SELECT 1 FROM run_problems WHERE folder = ? AND listed = 0", (ref,)
        ).fetchone():
            raise NotFound(f"run {ref!r} has an invalid record", hint="see `nbtrail index rebuild`")
    finally:
        con.close()
    raise NotFound(f"no run {ref!r}", hint="see `nbtrail runs`")


@db.recovering
def get_run(ws: Workspace, run_id: str) -> RunRecord:
    """The full record of a run (id, unique prefix or stage name), status as it is now."""
    return records.load(ws, resolve_run_id(ws, run_id))
