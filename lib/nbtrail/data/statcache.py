"""A stat cache: re-adding a file that has not changed costs a ``stat``, not a hash.

Two tables in the workspace index (``workspace/index.sqlite``, opened via :mod:`nbtrail.db`):

``data_statcache``   (path, device, inode, size, mtime_ns, ctime_ns) -> digest
``data_described``   digest -> format, rows, columns, dtypes (so a cache hit needs no parse)

An entry is trusted only when every stat field matches. ``ctime_ns`` changes on any write and
cannot be set by ``touch``, so it catches an edit that keeps size and mtime. An entry whose
mtime lies within :data:`RACY_NS` of the moment it was recorded is not stored at all (as git
does for its index): the filesystem clock is coarse, and a write in that same tick would be
invisible to the stat fields.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from nbtrail.core import db
from nbtrail.core.workspace import Workspace

RACY_NS = 50_000_000  # 50 ms: well above the kernel's timestamp granularity

_SCHEMA = """
CREATE TABLE IF NOT EXISTS data_statcache (
    path TEXT PRIMARY KEY,
    device INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    digest TEXT NOT NULL,
    recorded_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS data_described (
    digest TEXT PRIMARY KEY,
    format TEXT NOT NULL,
    rows INTEGER NOT NULL,
    columns TEXT NOT NULL,
    dtypes TEXT NOT NULL,
    described TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class FileStat:
    """The stat fields a cache entry must match."""

    path: str
    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> FileStat:
        p = Path(path).resolve()
        st = p.stat()
        return cls(str(p), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass(frozen=True)
class Description:
    format: str
    rows: int
    columns: list[str]
    dtypes: dict[str, str]
    described: str  # "full" (every row parsed) or "sampled" (types from the first block)


class StatCache:
    """Lookups and updates of the stat cache of one workspace."""

    def __init__(self, ws: Workspace) -> None:
        self.path = ws.index_path

    def _connect(self) -> sqlite3.Connection:
        con = db.connect(self.path)
        con.executescript(_SCHEMA)
        return con

    def lookup(self, st: FileStat) -> str | None:
        """The digest recorded for exactly this file state, or None."""
        if not self.path.exists():
            return None
        con = self._connect()
        try:
            row = con.execute("SELECT * FROM data_statcache WHERE path = ?", (st.path,)).fetchone()
        finally:
            con.close()
        if row is None:
            return None
        same = (row["device"], row["inode"], row["size"], row["mtime_ns"], row["ctime_ns"]) == (
            st.device,
            st.inode,
            st.size,
            st.mtime_ns,
            st.ctime_ns,
        )
        return row["digest"] if same else None

    def record(self, st: FileStat, digest: str) -> bool:
        """Remember ``st -> digest``; returns False when the entry would be racy."""
        now = time.time_ns()
        if now - max(st.mtime_ns, st.ctime_ns) < RACY_NS:
            return False
        con = self._connect()
        try:
            with db.transaction(con):
                con.execute(
                    "INSERT OR REPLACE INTO data_statcache VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        st.path,
                        st.device,
                        st.inode,
                        st.size,
                        st.mtime_ns,
                        st.ctime_ns,
                        digest,
                        now,
                    ),
                )
        finally:
            con.close()
        return True

    def described(self, digest: str) -> Description | None:
        if not self.path.exists():
            return None
        con = self._connect()
        try:
            row = con.execute("SELECT * FROM data_described WHERE digest = ?", (digest,)).fetchone()
        finally:
            con.close()
        if row is None:
            return None
        return Description(
            row["format"],
            row["rows"],
            json.loads(row["columns"]),
            json.loads(row["dtypes"]),
            row["described"],
        )

    def remember_description(self, digest: str, d: Description) -> None:
        con = self._connect()
        try:
            with db.transaction(con):
                con.execute(
                    "INSERT OR REPLACE INTO data_described VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        digest,
                        d.format,
                        d.rows,
                        json.dumps(d.columns),
                        json.dumps(d.dtypes),
                        d.described,
                    ),
                )
        finally:
            con.close()
