"""Aliases: moving ``name@alias`` to a version, resolving references, the alias history."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any

from nbtrail.core import db
from nbtrail.core.errors import GateFailed, NameRefused, NotFound, ParameterError
from nbtrail.core.workspace import Workspace
from nbtrail.data.datasets import check_name
from nbtrail.practices.registry.cache import aliases_of, connect, get_version, holder, now, writing
from nbtrail.practices.registry.versions import verify_artifact

_VERSION_RE = re.compile(r"^[0-9]+$")


def _check_alias(alias: str) -> str:
    check_name(alias, "alias")
    if _VERSION_RE.match(alias) or alias == "latest":
        raise NameRefused(
            f"alias {alias!r} refused",
            hint="an alias must not be a number or 'latest' (those name versions)",
        )
    return alias


@db.recovering
def promote(ws: Workspace, name: str, version: int, alias: str, reason: str = "") -> dict[str, Any]:
    """Point ``alias`` of ``name`` at ``version``, appending the move to the history.

    Refuses (:class:`IntegrityError`) a version whose artifact or export bundle no longer
    matches its hashes, and (:class:`GateFailed`) one whose evaluation verdict is ``failed``.
    Returns the event ``{at, name, alias, from_version, to_version, reason, moved}``; when
    the alias already points at ``version`` nothing is appended and ``moved`` is False.
    Made again on a fresh index if the index was corrupt: the move is appended at most once
    (the second call finds the alias already there).
    """
    _check_alias(alias)
    con = connect(ws)
    try:
        entry = get_version(con, name, version)
        verify_artifact(ws, entry)
        if entry["verdict"] == "failed":
            raise GateFailed(
                f"refusing to promote {name}@{version} to {alias}: its evaluation failed",
                name=name,
                version=version,
            )
        with writing(ws, con) as write:
            current = holder(con, name, alias, None)
            event = {
                "at": now(),
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


@db.recovering
def resolve(ws: Workspace, ref: str) -> dict[str, Any]:
    """The version row for ``name@alias``, ``name@<number>``, ``name@latest`` or ``name``
    (= latest), with its current ``aliases`` (list of names)."""
    name, sel = parse_ref(ref)
    con = connect(ws)
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
            held = holder(con, name, sel, None)
            if held is None:
                raise NotFound(
                    f"model {name!r} has no alias {sel!r}", hint="see `nbtrail registry list`"
                )
            version = held
        entry = get_version(con, name, version)
        entry["aliases"] = sorted(a for a, v in aliases_of(con, name).items() if v == version)
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


@db.recovering
def alias_at(ws: Workspace, name: str, alias: str, when: str | datetime | date) -> int | None:
    """The version ``alias`` pointed at, at ``when`` (None if it was not yet assigned)."""
    con = connect(ws)
    try:
        return holder(con, name, _check_alias(alias), as_timestamp(when))
    finally:
        con.close()


@db.recovering
def history(ws: Workspace, name: str, *, at: str | datetime | date | None = None) -> dict:
    """Alias events of ``name`` (oldest first) and, with ``at``, which version held each
    alias then: ``{"name", "events": [...], "at": ts|None, "held": {alias: version}}``."""
    check_name(name, "model name")
    con = connect(ws)
    try:
        if con.execute("SELECT 1 FROM registry_versions WHERE name=?", (name,)).fetchone() is None:
            raise NotFound(f"no model named {name!r}", hint="see `nbtrail registry list`")
        ts = as_timestamp(at) if at is not None else None
        sql = "SELECT at, alias, from_version, to_version, reason FROM registry_alias_events"
        sql += " WHERE name=?" + (" AND at <= ?" if ts else "") + " ORDER BY at, id"
        rows = con.execute(sql, (name, ts) if ts else (name,)).fetchall()
        events = [dict(r) for r in rows]
        aliases = sorted({e["alias"] for e in events})
        held = {a: holder(con, name, a, ts) for a in aliases}
        return {"name": name, "events": events, "at": ts, "held": held}
    finally:
        con.close()
