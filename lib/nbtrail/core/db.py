"""SQLite connections for ``workspace/index.sqlite``: WAL, a busy timeout, one transaction a call.

Every module that keeps tables in the index (runs, lineage, registry, monitoring history)
opens it through :func:`connect` so that several processes can write at once safely.

The index is a cache: everything in it is re-derived from the run folders and the append-only
logs. So a file that is not a database any more (random bytes over its header) is moved aside
when it is opened (:func:`quarantine`) and a fresh one made, which every module fills again
from its source; a corrupt page found later by a query is handled by :func:`recovering`, which
wraps the index's readers and writers: the file is moved aside and the call made once more. A write that cannot get the lock within the busy timeout raises
:class:`~nbtrail.core.errors.Busy` naming the file and the processes that hold it open.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from nbtrail.core.errors import Busy
from nbtrail.core.workspace import Workspace

P = ParamSpec("P")
T = TypeVar("T")

BUSY_TIMEOUT_MS = 30_000
BUSY_ENV = "NBTRAIL_BUSY_TIMEOUT_MS"  # tests and impatient scripts set a shorter wait
_CORRUPT = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


def busy_timeout_ms() -> int:
    """How long a write waits for the lock: ``$NBTRAIL_BUSY_TIMEOUT_MS`` or 30 s."""
    try:
        return max(0, int(os.environ.get(BUSY_ENV, BUSY_TIMEOUT_MS)))
    except ValueError:
        return BUSY_TIMEOUT_MS


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating the folder) with WAL journaling and the busy timeout; a file that is
    not a database any more is moved aside and a fresh one made (:func:`quarantine`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # No peek at the file's header with open()/close() here: closing any descriptor of the file
    # drops every POSIX lock this process holds on it, so another connection closing next
    # thinks it is the last, deletes the WAL and shared memory under the live ones ("disk I/O
    # error", writes lost). SQLite itself says "file is not a database" on the first PRAGMA.
    # Connections opening a new index at once each turn it to WAL, which takes the file's
    # exclusive lock; SQLite answers one of two such waiters "locked" at once (a busy wait would
    # deadlock), so a locked open is tried again until the busy timeout, as a write would wait.
    deadline = time.monotonic() + busy_timeout_ms() / 1000
    while True:
        try:
            return _open(path)
        except sqlite3.DatabaseError as exc:
            if is_corrupt(exc):
                break
            if not is_busy(exc):
                raise
            if time.monotonic() >= deadline:
                raise _busy(exc, path) from None
        time.sleep(0.01)
    quarantine(path)
    return _open(path)


def _open(path: Path) -> sqlite3.Connection:
    wait = busy_timeout_ms()
    con = sqlite3.connect(path, timeout=wait / 1000, isolation_level=None)
    try:
        con.row_factory = sqlite3.Row
        con.execute(f"PRAGMA busy_timeout={wait}")
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA foreign_keys=ON")
    except BaseException:
        con.close()
        raise
    return con


def is_corrupt(exc: BaseException) -> bool:
    """True for SQLite's "database disk image is malformed" / "file is not a database"."""
    return isinstance(exc, sqlite3.DatabaseError) and (
        getattr(exc, "sqlite_errorcode", None) in _CORRUPT
        or "malformed" in str(exc)
        or "not a database" in str(exc)
    )


def is_busy(exc: BaseException) -> bool:
    """True for "database is locked" (the busy timeout ran out)."""
    return isinstance(exc, sqlite3.OperationalError) and (
        getattr(exc, "sqlite_errorcode", None) in _BUSY or "locked" in str(exc)
    )


def quarantine(path: Path) -> Path | None:
    """Move a corrupt index (and its WAL and shared-memory files) aside, as
    ``index.sqlite.corrupt-<UTC stamp>``; returns where, or None when it was already gone."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    dest = path.with_name(f"{path.name}.corrupt-{stamp}")
    try:
        os.replace(path, dest)
    except FileNotFoundError:
        _unlink_sidecars(path)
        return None
    _unlink_sidecars(path)
    return dest


def _unlink_sidecars(path: Path) -> None:
    for suffix in ("-wal", "-shm", "-journal"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass


def holders(path: Path) -> list[int]:
    """The ids of the other processes that have ``path`` open (Linux ``/proc``; best effort)."""
    target = os.path.realpath(path)
    out = []
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return []
    for pid in pids:
        if pid == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    out.append(pid)
                    break
            except OSError:
                continue
    return sorted(out)


def _busy(exc: BaseException, path: Path | None, waited_s: float | None = None) -> Busy:
    where = str(path) if path else "the index"
    pids = holders(path) if path else []
    held = f" (open in process {', '.join(map(str, pids))})" if pids else ""
    waited = f" for {waited_s:.1f} s" if waited_s is not None else ""
    return Busy(
        f"{where} is locked: another process{held} holds a write transaction on it; "
        f"waited{waited} and gave up ({exc})",
        hint="nothing was lost; retry when it finishes",
        path=where,
        holders=pids,
    )


def _path_of(con: sqlite3.Connection) -> Path | None:
    try:
        for row in con.execute("PRAGMA database_list"):
            if row[1] == "main" and row[2]:
                return Path(row[2])
    except sqlite3.Error:
        pass
    return None


@contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on any error); a lock not had
    within the busy timeout is :class:`~nbtrail.core.errors.Busy`."""
    t0 = time.monotonic()
    try:
        con.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if is_busy(exc):
            raise _busy(exc, _path_of(con), time.monotonic() - t0) from None
        raise
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    try:
        con.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        if is_busy(exc):
            con.execute("ROLLBACK")
            raise _busy(exc, _path_of(con), time.monotonic() - t0) from None
        raise


def recovering(
    fn: Callable[Concatenate[Workspace, P], T],
) -> Callable[Concatenate[Workspace, P], T]:
    """``fn(ws, ...)``, made once more on a fresh index when the first call found
    ``ws.index_path`` corrupt ("database disk image is malformed"): the file is moved aside
    (:func:`quarantine`) and each cache in it is filled again from its source on the way.

    Only for calls that are safe to repeat: reads, and writes whose durable part (a record,
    a log line) is done before the index is touched and is not done twice (each caller's
    docstring says why).
    """

    @functools.wraps(fn)
    def call(ws: Workspace, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(ws, *args, **kwargs)
        except Exception as exc:
            if not is_corrupt(exc):
                raise
            quarantine(ws.index_path)
        return fn(ws, *args, **kwargs)

    return call
