"""Keeping the run index in step with the run folders, cheaply (:func:`ensure`)."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from nbtrail.core import db
from nbtrail.core.errors import Busy
from nbtrail.core.workspace import Workspace
from nbtrail.runs import records
from nbtrail.runs.index.build import (
    being_made,
    delete_run,
    file_mtime_ns,
    insert_record,
    put_problem,
    read_folder,
    rebuild,
    run_folders,
)
from nbtrail.runs.index.schema import connect


@dataclass
class EnsureReport:
    rebuilt: bool = False
    added: int = 0
    removed: int = 0
    refreshed: int = 0

    @property
    def changed(self) -> bool:
        return self.rebuilt or bool(self.added or self.removed or self.refreshed)


@db.recovering
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
        dir_mtime = file_mtime_ns(ws.runs_dir)
        problems = {
            r[0]: r[1]
            for r in con.execute("SELECT folder, mtime_ns FROM run_problems WHERE listed = 0")
        }
        added: list[str] = []
        removed: set[str] = set()
        remember: str | None = meta.get("runs_dir_mtime")
        if not dir_mtime or meta.get("runs_dir_mtime") != str(dir_mtime):
            on_disk = set(run_folders(ws))
            known = {r[0] for r in con.execute("SELECT run_id FROM runs")} | problems.keys()
            pending = list(on_disk - known)
            added = [
                f
                for f in pending
                if (ws.run_dir(f) / records.RECORD_FILE).is_file() or not being_made(ws, f)
            ]
            removed = known - on_disk
            settled = time.time_ns() - dir_mtime > 2_000_000_000 and len(added) == len(pending)
            remember = str(dir_mtime) if dir_mtime and settled else None
        stale = [
            run_id
            for run_id, mtime in con.execute(
                "SELECT run_id, mtime_ns FROM runs WHERE status = 'running'"
            )
            if file_mtime_ns(ws.run_dir(run_id) / records.RECORD_FILE) != mtime
        ]
        stale += [
            f
            for f, mtime in problems.items()
            if f not in removed and file_mtime_ns(ws.run_dir(f) / records.RECORD_FILE) != mtime
        ]
        report = EnsureReport(added=len(added), removed=len(removed), refreshed=len(stale))
        if not report.changed and remember == meta.get("runs_dir_mtime"):
            return report
        if not report.changed:  # only the shortcut to remember: not worth waiting for a lock
            con.execute("PRAGMA busy_timeout=0")
            try:
                _remember(con, remember)
            except Busy:
                pass
            return report
        with db.transaction(con):
            for f in removed:
                delete_run(con, f)
            for f in [*added, *stale]:
                got = read_folder(ws, f)
                if got.record is None:
                    put_problem(con, ws, f, got.problem or "unreadable")
                else:
                    delete_run(con, f)
                    insert_record(con, ws, got.record, got.mtime_ns, got.size)
            _set_remembered(con, remember)
        return report
    finally:
        con.close()


def _remember(con: sqlite3.Connection, remember: str | None) -> None:
    with db.transaction(con):
        _set_remembered(con, remember)


def _set_remembered(con: sqlite3.Connection, remember: str | None) -> None:
    if remember is None:
        con.execute("DELETE FROM run_index_meta WHERE key = 'runs_dir_mtime'")
    else:
        con.execute(
            "INSERT OR REPLACE INTO run_index_meta VALUES ('runs_dir_mtime', ?)", (remember,)
        )
