"""The registry's tables in ``workspace/index.sqlite``: a cache of its append-only event log.

Every read first replays the lines of ``workspace/registry/events.jsonl`` past the byte offset
the cache applied (a :class:`~nbtrail.core.applog.LogCache`); :func:`rebuild` re-derives the
tables whole. Also the reads the version and alias queries share.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from nbtrail.core import db
from nbtrail.core.applog import Append, LogCache, log_writer
from nbtrail.core.errors import NotFound
from nbtrail.core.workspace import Workspace

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS registry_versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest TEXT NOT NULL,
    artifact_path TEXT NOT NULL,
    run_id TEXT,
    metrics TEXT NOT NULL DEFAULT '{}',
    verdict TEXT NOT NULL DEFAULT 'unknown',
    created TEXT NOT NULL,
    bundle_digest TEXT,
    PRIMARY KEY (name, version),
    UNIQUE (name, digest)
)""",
    """
CREATE TABLE IF NOT EXISTS registry_alias_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    from_version INTEGER,
    to_version INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    FOREIGN KEY (name, to_version) REFERENCES registry_versions (name, version)
)""",
    """
CREATE INDEX IF NOT EXISTS registry_alias_events_lookup
    ON registry_alias_events (name, alias, at, id)""",
    """
CREATE TRIGGER IF NOT EXISTS registry_alias_events_no_update
    BEFORE UPDATE ON registry_alias_events
    BEGIN SELECT RAISE(ABORT, 'the alias history is append-only'); END""",
    """
CREATE TRIGGER IF NOT EXISTS registry_alias_events_no_delete
    BEFORE DELETE ON registry_alias_events
    BEGIN SELECT RAISE(ABORT, 'the alias history is append-only'); END""",
)


def create(con: sqlite3.Connection) -> None:
    """Make the registry tables (and their append-only triggers) when missing."""
    for stmt in _SCHEMA:
        con.execute(stmt)


def connect(ws: Workspace) -> sqlite3.Connection:
    """A connection to the index with the registry tables made and up to date with the log."""
    con = db.connect(ws.index_path)
    try:
        create(con)
        log_cache(ws).sync(con)
    except BaseException:
        con.close()
        raise
    return con


# -- the event log and its cache in the index ---------------------------------------------------


def _reset(con: sqlite3.Connection) -> None:
    """Empty the cache (the triggers refuse DELETE, so the tables are dropped and re-made)."""
    con.execute("DROP TABLE IF EXISTS registry_alias_events")
    con.execute("DROP TABLE IF EXISTS registry_versions")
    create(con)


def _apply(con: sqlite3.Connection, rec: Mapping[str, Any]) -> None:
    """Replay one event into the cache; a malformed or dangling event is skipped."""
    try:
        kind = rec.get("type")
        if kind == "version":
            con.execute(
                "INSERT OR IGNORE INTO registry_versions (name, version, digest, artifact_path,"
                " run_id, metrics, verdict, created, bundle_digest) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    rec["name"],
                    int(rec["version"]),
                    rec["digest"],
                    rec["artifact_path"],
                    rec.get("run_id"),
                    json.dumps(dict(rec.get("metrics") or {}), sort_keys=True),
                    rec.get("verdict") or "unknown",
                    rec["created"],
                    rec.get("bundle_digest"),
                ),
            )
        elif kind == "alias":
            con.execute(
                "INSERT INTO registry_alias_events (at, name, alias, from_version, to_version,"
                " reason) VALUES (?,?,?,?,?,?)",
                (
                    rec["at"],
                    rec["name"],
                    rec["alias"],
                    rec.get("from_version"),
                    int(rec["to_version"]),
                    rec.get("reason") or "",
                ),
            )
        elif kind == "bundle":
            con.execute(
                "UPDATE registry_versions SET bundle_digest=? WHERE name=? AND version=?",
                (rec["bundle_digest"], rec["name"], int(rec["version"])),
            )
    except (KeyError, TypeError, ValueError, sqlite3.IntegrityError):
        pass


def _legacy(con: sqlite3.Connection) -> list[dict[str, Any]]:
    """The tables written before the log existed, as log events (in their order)."""
    events = [
        {"type": "version", **row(r)}
        for r in con.execute("SELECT * FROM registry_versions ORDER BY name, version").fetchall()
    ]
    events += [
        {"type": "alias", **dict(r)}
        for r in con.execute(
            "SELECT at, name, alias, from_version, to_version, reason FROM registry_alias_events"
            " ORDER BY id"
        ).fetchall()
    ]
    return events


def log_cache(ws: Workspace) -> LogCache:
    """The registry tables in the index, as the cache of ``workspace/registry/events.jsonl``."""
    return LogCache("registry", ws.registry_log, _reset, _apply, _legacy)


@contextmanager
def writing(ws: Workspace, con: sqlite3.Connection) -> Iterator[Append]:
    """Hold the log's lock with the cache up to date; yields ``write(event)``, which appends
    the event to the log and then replays it into the cache."""
    cache = log_cache(ws)
    with log_writer(ws.registry_log) as append:
        cache.sync(con, append)

        def write(event: Mapping[str, Any]) -> None:
            append(event)
            cache.sync(con, append)

        yield write


@db.recovering
def rebuild(ws: Workspace) -> int:
    """Re-derive the registry tables in the index from the event log; returns the number of
    events replayed (``nbtrail index rebuild`` calls this)."""
    con = db.connect(ws.index_path)
    try:
        create(con)
        return log_cache(ws).rebuild(con)
    finally:
        con.close()


def now() -> str:
    """The current UTC time as the registry's events stamp it."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def row(r: sqlite3.Row) -> dict[str, Any]:
    """A ``registry_versions`` row as a dict, its metrics decoded."""
    d = dict(r)
    if "metrics" in d:
        d["metrics"] = json.loads(d["metrics"] or "{}")
    return d


def get_version(con: sqlite3.Connection, name: str, version: int) -> dict[str, Any]:
    """The row of ``name@version``; :class:`NotFound` when there is none."""
    r = con.execute(
        "SELECT * FROM registry_versions WHERE name=? AND version=?", (name, int(version))
    ).fetchone()
    if r is None:
        raise NotFound(f"no model version {name}@{version}", hint="see `nbtrail registry list`")
    return row(r)


def holder(con: sqlite3.Connection, name: str, alias: str, at: str | None) -> int | None:
    """The version ``alias`` of ``name`` pointed at, at time ``at`` (None: now)."""
    sql = "SELECT to_version FROM registry_alias_events WHERE name=? AND alias=?"
    args: list[Any] = [name, alias]
    if at is not None:
        sql += " AND at <= ?"
        args.append(at)
    r = con.execute(sql + " ORDER BY at DESC, id DESC LIMIT 1", args).fetchone()
    return None if r is None else int(r[0])


def aliases_of(con: sqlite3.Connection, name: str) -> dict[str, int | None]:
    """Every alias of ``name`` with the version it points at now."""
    rows = con.execute(
        "SELECT DISTINCT alias FROM registry_alias_events WHERE name=? ORDER BY alias", (name,)
    ).fetchall()
    return {r[0]: holder(con, name, r[0], None) for r in rows}
