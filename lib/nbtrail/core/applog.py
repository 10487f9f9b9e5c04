"""Append-only JSON-lines logs and the SQLite tables kept as their cache.

What cannot be rebuilt (the registry's events, the monitoring history) is written to a log under
``workspace/`` first: :func:`log_writer` appends whole lines under an exclusive ``flock`` (one
``write`` then ``fsync`` per line, so two writers never interleave) and :func:`read_log` returns
the complete lines after a byte offset, skipping a torn last line. A :class:`LogCache` keeps an
index table in step with its log: it remembers the byte offset it has applied (table
``log_offsets``) and replays what came after; a cache that never saw its log is emptied and
replayed whole, and rows written before the log existed are first copied into it.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbtrail.core import db

Append = Callable[[Mapping[str, Any]], None]

_OFFSETS = "CREATE TABLE IF NOT EXISTS log_offsets (log TEXT PRIMARY KEY, offset INTEGER NOT NULL)"


def _jsonable(o: Any) -> Any:
    item = getattr(o, "item", None)  # numpy scalars
    return item() if callable(item) else str(o)


def encode_line(record: Mapping[str, Any]) -> bytes:
    """One log line: compact, key-sorted JSON and a newline."""
    text = json.dumps(dict(record), sort_keys=True, separators=(",", ":"), default=_jsonable)
    return (text + "\n").encode()


@contextmanager
def log_writer(path: Path) -> Iterator[Callable[[Mapping[str, Any]], None]]:
    """Hold the exclusive lock on the log at ``path``; yields ``append(record)``.

    Each append is one ``os.write`` of the whole line on an ``O_APPEND`` descriptor followed by
    ``os.fsync``. If the file does not end in a newline (a writer crashed mid-line), the torn
    fragment is closed with one first, so it stays one unreadable line that readers skip.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if created:
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

        def append(record: Mapping[str, Any]) -> None:
            data = encode_line(record)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data
            view = memoryview(data)
            while view:  # one write in practice; loop only on a short write
                view = view[os.write(fd, view) :]
            os.fsync(fd)

        yield append
    finally:
        os.close(fd)  # releases the lock


def log_size(path: Path) -> int:
    """The log's size in bytes (0 when it does not exist yet)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def read_log(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The records on complete lines after byte ``offset`` and the offset just past them.

    A last line without its newline (being written, or torn by a crash) is left for later;
    a complete line that is not a JSON object is skipped.
    """
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    out: list[dict[str, Any]] = []
    for line in data[:end].splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out, offset + end


def forget_all(index: Path) -> None:
    """Make every :class:`LogCache` in the index at ``index`` replay its whole log when it is
    next opened (``nbtrail index rebuild``: the cost is paid by the next reader of each log,
    and rebuilding needs none of the modules that own the caches)."""
    con = db.connect(index)
    try:
        with db.transaction(con):
            con.execute(_OFFSETS)
            con.execute("DELETE FROM log_offsets")
    finally:
        con.close()


@dataclass(frozen=True)
class LogCache:
    """Index tables derived from the log at ``path`` (``key`` names it in ``log_offsets``).

    ``reset`` empties the tables, ``apply`` replays one log record into them, and ``legacy``
    lists, as log records, the rows a workspace wrote before the log existed.
    """

    key: str
    path: Path
    reset: Callable[[sqlite3.Connection], None]
    apply: Callable[[sqlite3.Connection, Mapping[str, Any]], None]
    legacy: Callable[[sqlite3.Connection], Sequence[Mapping[str, Any]]]

    def applied(self, con: sqlite3.Connection) -> int | None:
        """The byte offset of the log already in the tables (None: they never saw it)."""
        con.execute(_OFFSETS)
        r = con.execute("SELECT offset FROM log_offsets WHERE log = ?", (self.key,)).fetchone()
        return None if r is None else int(r[0])

    def _set_applied(self, con: sqlite3.Connection, offset: int) -> None:
        con.execute(
            "INSERT OR REPLACE INTO log_offsets (log, offset) VALUES (?, ?)", (self.key, offset)
        )

    def _migrate(self, con: sqlite3.Connection, append: Append) -> None:
        """Copy rows from before the log existed into it (holding the log's lock)."""
        if log_size(self.path) or self.applied(con) is not None:
            return
        for rec in self.legacy(con):
            append(rec)
        with db.transaction(con):
            self._set_applied(con, log_size(self.path))

    def sync(self, con: sqlite3.Connection, append: Append | None = None) -> int:
        """Bring the tables up to the log; returns the records replayed. ``append`` is the
        caller's :func:`log_writer` when it already holds the log's lock."""
        applied = self.applied(con)
        size = log_size(self.path)
        if applied == size:
            return 0
        if applied is None and size == 0 and self.legacy(con):
            if append is None:
                with log_writer(self.path) as locked:
                    self._migrate(con, locked)
            else:
                self._migrate(con, append)
            return 0
        if applied is not None and applied < size:
            pending, end = read_log(self.path, applied)
            if not pending and end == applied:
                return 0  # only a torn or half-written last line
        with db.transaction(con):
            applied = self.applied(con)  # again, now that we hold the write lock
            if applied is None or applied > log_size(self.path):
                self.reset(con)
                applied = 0
            return self._replay(con, applied)

    def open(self, index: Path, schema: str) -> sqlite3.Connection:
        """A connection to the index at ``index`` with the tables of ``schema`` created and
        caught up with the log (closed again if that fails)."""
        con = db.connect(index)
        try:
            con.executescript(schema)
            self.sync(con)
        except BaseException:
            con.close()
            raise
        return con

    def rebuild(self, con: sqlite3.Connection) -> int:
        """Empty the tables and replay the whole log (``nbtrail index rebuild``)."""
        self.sync(con)  # copies rows from before the log into it first, if there are any
        with db.transaction(con):
            self.reset(con)
            return self._replay(con, 0)

    def _replay(self, con: sqlite3.Connection, offset: int) -> int:
        records, end = read_log(self.path, offset)
        for rec in records:
            self.apply(con, rec)
        self._set_applied(con, end)
        return len(records)
