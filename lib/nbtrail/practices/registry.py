"""The model registry: versions of named models, aliases, and the append-only alias history.

The record of truth is ``workspace/registry/events.jsonl``: one JSON line per event
(``version`` registered, ``alias`` moved, export ``bundle`` recorded), appended under an
exclusive lock with one write and an fsync (:func:`nbtrail.core.applog.log_writer`).
``workspace/index.sqlite`` holds a cache of it (through :func:`nbtrail.core.db.connect`): every
read first replays the lines past the byte offset it applied (a :class:`~nbtrail.core.applog.LogCache`), so deleting
the index loses nothing, and :func:`rebuild` (``nbtrail index rebuild``) re-derives it whole.
A workspace from before the log has its tables copied into a new log on first use.

The cache has two tables:

``registry_versions``
    one row per model version: ``name``, ``version`` (1, 2, ... per name), ``digest``
    (nbtrail's BLAKE3 of the artifact file, as run records store it), ``artifact_path``
    (relative to the workspace root), ``run_id`` of the run that produced it, evaluation
    ``metrics`` (JSON) and ``verdict`` (``passed``/``failed``/``unknown``), ``created``, and
    ``bundle_digest`` (SHA-256 of the export bundle's manifest, once exported).
``registry_alias_events``
    every alias move: ``at`` (UTC ISO time), ``name``, ``alias``, ``from_version`` (NULL for a
    first assignment), ``to_version``, ``reason``. SQLite triggers refuse UPDATE and DELETE,
    so the history is append-only; an alias's holder at any time is the last event before it.

Public API (what the stages and the CLI call)::

    register_model(ws, name, *, artifact_path, digest, run_id, metrics, verdict) -> int
    promote(ws, name, version, alias, reason) -> dict        # the event, or the no-op state
    resolve(ws, "name@alias" | "name@3" | "name@latest" | "name") -> dict
    alias_at(ws, name, alias, when) -> int | None
    history(ws, name, *, at=None) -> list[dict]
    list_versions(ws, name=None) -> list[dict]
    set_bundle(ws, name, version, bundle_digest) -> None
    rebuild(ws) -> int                                       # events replayed into the index
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from nbtrail.core import db
from nbtrail.core.applog import Append, LogCache, log_writer
from nbtrail.core.errors import GateFailed, IntegrityError, NameRefused, NotFound, ParameterError
from nbtrail.core.hashing import hash_file
from nbtrail.core.workspace import Workspace
from nbtrail.data.datasets import check_name

VERDICTS = ("passed", "failed", "unknown")
_VERSION_RE = re.compile(r"^[0-9]+$")

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


def _create(con: sqlite3.Connection) -> None:
    for stmt in _SCHEMA:
        con.execute(stmt)


def _connect(ws: Workspace) -> sqlite3.Connection:
    con = db.connect(ws.index_path)
    try:
        _create(con)
        _cache(ws).sync(con)
    except BaseException:
        con.close()
        raise
    return con


# -- the event log and its cache in the index ---------------------------------------------------


def _reset(con: sqlite3.Connection) -> None:
    """Empty the cache (the triggers refuse DELETE, so the tables are dropped and re-made)."""
    con.execute("DROP TABLE IF EXISTS registry_alias_events")
    con.execute("DROP TABLE IF EXISTS registry_versions")
    _create(con)


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
        {"type": "version", **_row(r)}
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


def _cache(ws: Workspace) -> LogCache:
    """The registry tables in the index, as the cache of ``workspace/registry/events.jsonl``."""
    return LogCache("registry", ws.registry_log, _reset, _apply, _legacy)


@contextmanager
def _writing(ws: Workspace, con: sqlite3.Connection) -> Iterator[Append]:
    """Hold the log's lock with the cache up to date; yields ``write(event)``, which appends
    the event to the log and then replays it into the cache."""
    cache = _cache(ws)
    with log_writer(ws.registry_log) as append:
        cache.sync(con, append)

        def write(event: Mapping[str, Any]) -> None:
            append(event)
            cache.sync(con, append)

        yield write


def rebuild(ws: Workspace) -> int:
    """Re-derive the registry tables in the index from the event log; returns the number of
    events replayed (``nbtrail index rebuild`` calls this)."""
    con = db.connect(ws.index_path)
    try:
        _create(con)
        return _cache(ws).rebuild(con)
    finally:
        con.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _check_alias(alias: str) -> str:
    check_name(alias, "alias")
    if _VERSION_RE.match(alias) or alias == "latest":
        raise NameRefused(
            f"alias {alias!r} refused",
            hint="an alias must not be a number or 'latest' (those name versions)",
        )
    return alias


def _verdict(verdict: bool | str | None) -> str:
    if verdict is None:
        return "unknown"
    if isinstance(verdict, bool):
        return "passed" if verdict else "failed"
    v = str(verdict).lower()
    if v not in VERDICTS:
        raise ParameterError(f"verdict must be a bool or one of {', '.join(VERDICTS)}, not {v!r}")
    return v


def _row(r: sqlite3.Row) -> dict[str, Any]:
    d = dict(r)
    if "metrics" in d:
        d["metrics"] = json.loads(d["metrics"] or "{}")
    return d


def _artifact(ws: Workspace, path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return p if p.is_absolute() else ws.root / p


def verify_artifact(ws: Workspace, entry: Mapping[str, Any]) -> None:
    """Re-hash a version's artifact; :class:`IntegrityError` naming the file if it changed.

    When the version has an export bundle in ``workspace/exports/<name>/<version>``, its
    manifest and files are checked too (against the recorded bundle digest).
    """
    p = _artifact(ws, entry["artifact_path"])
    if not p.is_file():
        raise NotFound(
            f"{entry['name']}@{entry['version']}: artifact {ws.relative(p)} is missing",
            path=str(p),
        )
    got = hash_file(p)
    if got != entry["digest"]:
        raise IntegrityError(
            f"{entry['name']}@{entry['version']}: {ws.relative(p)} does not match its registered "
            f"hash (changed after registration)",
            file=str(p),
            expected=entry["digest"],
            actual=got,
        )
    from nbtrail.practices import export

    folder = export.bundle_dir(ws, entry["name"], entry["version"])
    if entry.get("bundle_digest") or (folder / export.MANIFEST).is_file():
        export.verify_bundle(folder, expected_digest=entry.get("bundle_digest"))


def register_model(
    ws: Workspace,
    name: str,
    *,
    artifact_path: str | os.PathLike[str],
    digest: str,
    run_id: str | None,
    metrics: Mapping[str, Any] | None,
    verdict: bool | str | None,
) -> int:
    """Record a model file as the next version of ``name``; returns the version number.

    ``digest`` is the BLAKE3 the producing run recorded for the file; it is checked against
    the file now (:class:`IntegrityError` if they differ). Registering the same bytes again
    under the same name returns the existing version (so re-runs do not add versions).
    ``verdict``: True/``"passed"``, False/``"failed"``, None/``"unknown"``.
    """
    check_name(name, "model name")
    p = _artifact(ws, artifact_path)
    if not p.is_file():
        raise NotFound(f"cannot register {name}: no file {p}", path=str(p))
    got = hash_file(p)
    if got != digest:
        raise IntegrityError(
            f"cannot register {name}: {ws.relative(p)} hashes to {got[:12]}..., "
            f"not the recorded {digest[:12]}...",
            file=str(p),
        )
    v = _verdict(verdict)
    metrics_json = json.dumps(dict(metrics or {}), sort_keys=True, default=float)
    con = _connect(ws)
    try:
        with _writing(ws, con) as write:
            row = con.execute(
                "SELECT version FROM registry_versions WHERE name=? AND digest=?", (name, digest)
            ).fetchone()
            if row:
                return int(row["version"])
            (last,) = con.execute(
                "SELECT COALESCE(MAX(version), 0) FROM registry_versions WHERE name=?", (name,)
            ).fetchone()
            version = int(last) + 1
            write(
                {
                    "type": "version",
                    "name": name,
                    "version": version,
                    "digest": digest,
                    "artifact_path": ws.relative(p),
                    "run_id": run_id,
                    "metrics": json.loads(metrics_json),
                    "verdict": v,
                    "created": _now(),
                    "bundle_digest": None,
                }
            )
            return version
    finally:
        con.close()


def set_bundle(ws: Workspace, name: str, version: int, bundle_digest: str) -> None:
    """Record the SHA-256 of the export bundle's manifest for a version."""
    con = _connect(ws)
    try:
        with _writing(ws, con) as write:
            _get(con, name, version)  # NotFound if there is no such version
            write(
                {
                    "type": "bundle",
                    "name": name,
                    "version": int(version),
                    "bundle_digest": bundle_digest,
                }
            )
    finally:
        con.close()


def _get(con: sqlite3.Connection, name: str, version: int) -> dict[str, Any]:
    r = con.execute(
        "SELECT * FROM registry_versions WHERE name=? AND version=?", (name, int(version))
    ).fetchone()
    if r is None:
        raise NotFound(f"no model version {name}@{version}", hint="see `nbtrail registry list`")
    return _row(r)


def _holder(con: sqlite3.Connection, name: str, alias: str, at: str | None) -> int | None:
    sql = "SELECT to_version FROM registry_alias_events WHERE name=? AND alias=?"
    args: list[Any] = [name, alias]
    if at is not None:
        sql += " AND at <= ?"
        args.append(at)
    r = con.execute(sql + " ORDER BY at DESC, id DESC LIMIT 1", args).fetchone()
    return None if r is None else int(r[0])


def _aliases(con: sqlite3.Connection, name: str) -> dict[str, int | None]:
    rows = con.execute(
        "SELECT DISTINCT alias FROM registry_alias_events WHERE name=? ORDER BY alias", (name,)
    ).fetchall()
    return {r[0]: _holder(con, name, r[0], None) for r in rows}


def promote(ws: Workspace, name: str, version: int, alias: str, reason: str = "") -> dict[str, Any]:
    """Point ``alias`` of ``name`` at ``version``, appending the move to the history.

    Refuses (:class:`IntegrityError`) a version whose artifact or export bundle no longer
    matches its hashes, and (:class:`GateFailed`) one whose evaluation verdict is ``failed``.
    Returns the event ``{at, name, alias, from_version, to_version, reason, moved}``; when
    the alias already points at ``version`` nothing is appended and ``moved`` is False.
    """
    _check_alias(alias)
    con = _connect(ws)
    try:
        entry = _get(con, name, version)
        verify_artifact(ws, entry)
        if entry["verdict"] == "failed":
            raise GateFailed(
                f"refusing to promote {name}@{version} to {alias}: its evaluation failed",
                name=name,
                version=version,
            )
        with _writing(ws, con) as write:
            current = _holder(con, name, alias, None)
            event = {
                "at": _now(),
                "name": name,
                "alias": alias,
                "from_version": current,
                "to_version": int(version),
                "reason": reason or "",
                "moved": current != int(version),
            }
            if event["moved"]:
                write({"type": "alias", **{k: v for k, v in event.items() if k != "moved"}})
        return event
    finally:
        con.close()


def parse_ref(ref: str) -> tuple[str, str | None]:
    """``"name@x"`` -> ``("name", "x")``; ``"name"`` -> ``("name", None)``."""
    name, _, sel = ref.partition("@")
    check_name(name, "model name")
    return name, (sel or None)


def resolve(ws: Workspace, ref: str) -> dict[str, Any]:
    """The version row for ``name@alias``, ``name@<number>``, ``name@latest`` or ``name``
    (= latest), with its current ``aliases`` (list of names)."""
    name, sel = parse_ref(ref)
    con = _connect(ws)
    try:
        if sel is None or sel == "latest":
            r = con.execute(
                "SELECT MAX(version) FROM registry_versions WHERE name=?", (name,)
            ).fetchone()
            if r[0] is None:
                raise NotFound(f"no model named {name!r}", hint="see `nbtrail registry list`")
            version = int(r[0])
        elif _VERSION_RE.match(sel):
            version = int(sel)
        else:
            _check_alias(sel)
            held = _holder(con, name, sel, None)
            if held is None:
                raise NotFound(
                    f"model {name!r} has no alias {sel!r}", hint="see `nbtrail registry list`"
                )
            version = held
        entry = _get(con, name, version)
        entry["aliases"] = sorted(a for a, v in _aliases(con, name).items() if v == version)
        return entry
    finally:
        con.close()


def as_timestamp(when: str | datetime | date) -> str:
    """A comparable UTC ISO timestamp. A bare date means the *end* of that day (UTC), so
    "which version held the alias on D" answers with the holder when D was over; a naive
    time is read as UTC."""
    if isinstance(when, str):
        text = when.strip()
        try:
            if len(text) == 10:
                when = date.fromisoformat(text)
            else:
                when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ParameterError(
                f"not a date or time: {when!r}", hint="use YYYY-MM-DD or an ISO 8601 time"
            ) from exc
    if not isinstance(when, datetime):
        when = datetime.combine(when, time.max, tzinfo=UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def alias_at(ws: Workspace, name: str, alias: str, when: str | datetime | date) -> int | None:
    """The version ``alias`` pointed at, at ``when`` (None if it was not yet assigned)."""
    con = _connect(ws)
    try:
        return _holder(con, name, _check_alias(alias), as_timestamp(when))
    finally:
        con.close()


def history(ws: Workspace, name: str, *, at: str | datetime | date | None = None) -> dict:
    """Alias events of ``name`` (oldest first) and, with ``at``, which version held each
    alias then: ``{"name", "events": [...], "at": ts|None, "held": {alias: version}}``."""
    check_name(name, "model name")
    con = _connect(ws)
    try:
        if con.execute("SELECT 1 FROM registry_versions WHERE name=?", (name,)).fetchone() is None:
            raise NotFound(f"no model named {name!r}", hint="see `nbtrail registry list`")
        ts = as_timestamp(at) if at is not None else None
        sql = "SELECT at, alias, from_version, to_version, reason FROM registry_alias_events"
        sql += " WHERE name=?" + (" AND at <= ?" if ts else "") + " ORDER BY at, id"
        rows = con.execute(sql, (name, ts) if ts else (name,)).fetchall()
        events = [dict(r) for r in rows]
        aliases = sorted({e["alias"] for e in events})
        held = {a: _holder(con, name, a, ts) for a in aliases}
        return {"name": name, "events": events, "at": ts, "held": held}
    finally:
        con.close()


def list_versions(ws: Workspace, name: str | None = None) -> list[dict[str, Any]]:
    """Every registered version (newest first per name) with its current aliases."""
    con = _connect(ws)
    try:
        sql = "SELECT * FROM registry_versions"
        args: tuple = ()
        if name is not None:
            sql += " WHERE name=?"
            args = (check_name(name, "model name"),)
        rows = [_row(r) for r in con.execute(sql + " ORDER BY name, version DESC", args)]
        alias_maps = {n: _aliases(con, n) for n in {r["name"] for r in rows}}
        for r in rows:
            r["aliases"] = sorted(a for a, v in alias_maps[r["name"]].items() if v == r["version"])
        return rows
    finally:
        con.close()


def find_by_digest(ws: Workspace, name: str, digest: str) -> dict[str, Any] | None:
    """The version of ``name`` registered with artifact ``digest``, if any."""
    con = _connect(ws)
    try:
        r = con.execute(
            "SELECT * FROM registry_versions WHERE name=? AND digest=?", (name, digest)
        ).fetchone()
        return None if r is None else _row(r)
    finally:
        con.close()
