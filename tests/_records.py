"""A small factory of valid run records (schema run-record.v1) for index and lineage tests.

``Factory(ws)`` hands out increasing run ids (so "newer" is well defined), writes records
through :func:`nbtrail.records.write` (validated), and can build a whole data -> train ->
evaluate -> export chain with real output files, so ``find_cached`` sees outputs that exist.
"""

from __future__ import annotations

import copy
import itertools
import os
from pathlib import Path
from typing import Any

from nbtrail.core.hashing import hash_bytes
from nbtrail.core.workspace import Workspace
from nbtrail.runs import records

ENV = {
    "python": "3.11.9",
    "platform": "Linux-x86_64",
    "packages": {"scikit-learn": "1.9.1", "pandas": "3.0.1"},
    "lock_hash": "1" * 64,
}


def artifact(
    name: str,
    kind: str,
    digest: str,
    *,
    path: str | None = None,
    ref: str | None = None,
    stage: str | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "path": path,
        "digest": digest,
        "ref": ref,
        "stage": stage,
        "run_id": run_id,
    }


EXECUTED_NOTEBOOK = (
    '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'  # the smallest one
)


class Factory:
    """Valid records with increasing start times (one second apart)."""

    def __init__(self, ws: Workspace, *, start: int = 0) -> None:
        self.ws = ws
        self._n = itertools.count(start)

    def run_id(self, stage: str) -> tuple[str, str]:
        n = next(self._n)
        hh, rest = divmod(n, 3600)
        mm, ss = divmod(rest, 60)
        stamp = f"20261126T{hh % 24:02d}{mm:02d}{ss:02d}"
        started = f"2026-11-{26 + hh // 24:02d}T{hh % 24:02d}:{mm:02d}:{ss:02d}.000+00:00"
        return f"{stage}-{stamp}-{n % 0xFFFFFF:06x}", started

    def record(
        self,
        stage: str,
        *,
        status: str = "completed",
        origin: str = "runner",
        params: dict[str, Any] | None = None,
        inputs: list[dict[str, Any]] | None = None,
        outputs: dict[str, dict[str, Any]] | None = None,
        metrics: dict[str, float | None] | None = None,
        upstream: dict[str, str] | None = None,
        fingerprint: str | None = None,
        pid: int | None = None,
        commit: str = "a" * 40,
        code: str = "c",
        run_id: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        rid, started = self.run_id(stage)
        rid = run_id or rid
        rec = {
            "schema_version": 1,
            "run_id": rid,
            "stage": stage,
            "origin": origin,
            "status": status,
            "params": params or {},
            "notebook": {
                "path": f"notebooks/{stage}.ipynb",
                "hash": hash_bytes(f"nb-{stage}-{code}".encode()),
                "code_hash": hash_bytes(f"code-{stage}-{code}".encode()),
                "executed": f"workspace/runs/{rid}/{stage}.ipynb",
            },
            "upstream": upstream or {},
            "inputs": inputs or [],
            "outputs": outputs or {},
            "metrics": metrics or {},
            "verdicts": {},
            "fingerprint": fingerprint,
            "cached_from": None,
            "reproduces": None,
            "git": {"commit": commit, "dirty": False},
            "environment": copy.deepcopy(ENV),
            "started": started,
            "ended": None if status == "running" else started,
            "duration_s": None if status == "running" else 1.0,
            "pid": pid if pid is not None else (os.getpid() if status == "running" else None),
            "error": (
                {"ename": "ValueError", "evalue": "boom", "cell": 3} if status == "failed" else None
            ),
        }
        rec.update(extra)
        return rec

    def write(self, rec: dict[str, Any]) -> dict[str, Any]:
        """Write the record, and for a completed one the executed notebook it names when the
        test has not written one (the index reports a completed run whose notebook is missing)."""
        executed = rec["notebook"].get("executed")
        nb = self.ws.root / executed if executed else None
        if rec["status"] == "completed" and nb is not None and not nb.exists():
            nb.parent.mkdir(parents=True, exist_ok=True)
            nb.write_text(EXECUTED_NOTEBOOK)
        records.write(self.ws, rec)
        return rec

    def output_file(self, run_id: str, name: str, content: bytes, kind: str) -> dict[str, Any]:
        """A real file under the run's outputs/ folder, as an output artifact."""
        p = self.ws.run_dir(run_id) / "outputs" / f"{name}.bin"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)
        return artifact(name, kind, hash_bytes(content), path=self.ws.relative(p))

    def chain(
        self,
        *,
        data_ref: str = "default@1",
        C: float = 1.0,
        seed: int = 0,
        auc: float = 0.97,
        write: bool = True,
    ) -> dict[str, dict[str, Any]]:
        """data -> train -> evaluate -> export, each reading the previous one's outputs."""
        d_digest = hash_bytes(data_ref.encode())
        snap_ref = f"snapshot@{data_ref.split('@')[1]}"
        s_digest = hash_bytes(f"snap-{data_ref}".encode())
        data = self.record(
            "data",
            params={"seed": seed},
            inputs=[artifact("raw", "dataset", d_digest, ref=data_ref)],
            outputs={"snapshot": artifact("snapshot", "dataset", s_digest, ref=snap_ref)},
            fingerprint=f"fp-data-{data_ref}-{seed}",
        )
        did = data["run_id"]
        train = self.record("train", params={"C": C, "seed": seed}, upstream={"data": did})
        tid = train["run_id"]
        model = self.output_file(tid, "model", f"model-{data_ref}-{C}-{seed}".encode(), "model")
        train.update(
            inputs=[
                artifact("snapshot", "dataset", s_digest, ref=snap_ref, stage="data", run_id=did)
            ],
            outputs={"model": model},
            metrics={"train_auc": min(auc + 0.01, 1.0)},
            fingerprint=f"fp-train-{data_ref}-{C}-{seed}",
        )
        evaluate = self.record("evaluate", params={"n_boot": 200}, upstream={"train": tid})
        eid = evaluate["run_id"]
        report = self.output_file(eid, "report", f"report-{tid}".encode(), "report")
        evaluate.update(
            inputs=[
                dict(model, stage="train", run_id=tid),
                artifact("snapshot", "dataset", s_digest, ref=snap_ref, stage="data", run_id=did),
            ],
            outputs={"report": report},
            metrics={"roc_auc": auc, "accuracy": auc - 0.03},
        )
        export = self.record("export", upstream={"train": tid, "evaluate": eid})
        xid = export["run_id"]
        bundle = self.output_file(xid, "model", model_bytes(self.ws, model), "model")
        export.update(inputs=[dict(model, stage="train", run_id=tid)], outputs={"model": bundle})
        out = {"data": data, "train": train, "evaluate": evaluate, "export": export}
        if write:
            for rec in out.values():
                self.write(rec)
        return out


def model_bytes(ws: Workspace, art: dict[str, Any]) -> bytes:
    return Path(ws.root / art["path"]).read_bytes()
