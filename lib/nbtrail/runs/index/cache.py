"""The cache lookup of the runner: a completed run with the same fingerprint whose outputs
still exist is reused instead of executed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from nbtrail.core import db
from nbtrail.core.workspace import Workspace
from nbtrail.runs.index.ensure import ensure
from nbtrail.runs.index.schema import connect


def _output_exists(ws: Workspace, art: sqlite3.Row) -> bool:
    from nbtrail.data.store import ObjectStore

    if art["path"]:
        p = Path(art["path"])
        return (p if p.is_absolute() else ws.root / p).is_file()
    if art["kind"] == "dataset":
        try:
            return ObjectStore(ws.objects_dir).exists(art["digest"])
        except ValueError:
            return False
    return False


@db.recovering
def find_cached(ws: Workspace, stage: str, fingerprint: str) -> str | None:
    """The latest completed, non-interactive run of ``stage`` with ``fingerprint`` whose
    outputs still exist, or None."""
    ensure(ws)
    con = connect(ws)
    try:
        candidates = con.execute(
            "SELECT run_id FROM runs WHERE stage = ? AND fingerprint = ?"
            " AND status = 'completed' AND origin != 'interactive'"
            " ORDER BY started DESC, run_id DESC",
            (stage, fingerprint),
        ).fetchall()
        for (run_id,) in candidates:
            outs = con.execute(
                "SELECT kind, digest, path FROM run_artifacts WHERE run_id = ? AND direction = 'out'",
                (run_id,),
            ).fetchall()
            if all(_output_exists(ws, a) for a in outs):
                return run_id
    finally:
        con.close()
    return None
