"""Stages that do not use the nbtrail API declare the files they read and write in
``params/pipeline.yaml`` (``inputs:``, ``outputs:``); the runner hashes them into the record."""

from __future__ import annotations

from nbtrail.core.workspace import Workspace
from nbtrail.pipeline import fingerprint
from nbtrail.pipeline.config import Stage
from nbtrail.runs.record_types import Artifact, RunRecord


def record_declared_files(ws: Workspace, record: RunRecord, st: Stage) -> None:
    """Hash the declared inputs and outputs into ``record``; a declared output the stage did
    not write fails the run (``MissingOutput``)."""
    for rel in st.inputs:
        p = ws.root / rel
        if p.is_file():
            art = _file(rel, fingerprint.file_digest(p))
            if art not in record["inputs"]:
                record["inputs"].append(Artifact(**art, ref=None, stage=None, run_id=None))
    missing = []
    for rel in st.outputs:
        p = ws.root / rel
        if not p.is_file():
            missing.append(rel)
            continue
        record["outputs"].setdefault(rel, _file(rel, fingerprint.file_digest(p)))
    if missing:
        record["status"] = "failed"
        record["error"] = {
            "ename": "MissingOutput",
            "evalue": f"declared outputs not written: {', '.join(missing)}",
            "cell": None,
        }


def _file(rel: str, digest: str) -> Artifact:
    return {"name": rel, "kind": "file", "path": rel, "digest": digest}
