"""A stage's fingerprint: everything that can change what it produces.

It covers the notebook's code cells, the resolved parameters, the content hashes of the
upstream outputs and declared input files, the source of the local code the notebooks import
(``lib/`` and any ``.py`` beside the notebooks) and the environment lock. Equal fingerprints
mean a completed run can be reused instead of executed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nbtrail.core.hashing import hash_bytes, hash_file
from nbtrail.core.workspace import Workspace
from nbtrail.pipeline.config import Stage
from nbtrail.runs import records
from nbtrail.runs.record_types import RunRecord

FINGERPRINT_VERSION = 1


def code_tree_hash(ws: Workspace) -> str:
    """One hash over every ``.py`` file under ``lib/`` and ``notebooks/`` (path and bytes)."""
    parts: list[str] = []
    for base in (ws.lib_dir, ws.notebooks_dir):
        if base.is_dir():
            for p in sorted(base.rglob("*.py")):
                if "__pycache__" in p.parts or ".ipynb_checkpoints" in p.parts:
                    continue
                parts.append(f"{p.relative_to(ws.root).as_posix()}:{hash_file(p)}")
    return hash_bytes("\n".join(parts).encode())


def stage_fingerprint(
    *,
    stage: str,
    code_hash: str,
    params: dict[str, Any],
    upstream_outputs: dict[str, dict[str, str]],
    input_files: dict[str, str | None],
    code_tree: str,
    lock_hash: str | None,
) -> str:
    payload = {
        "v": FINGERPRINT_VERSION,
        "stage": stage,
        "code": code_hash,
        "params": params,
        "upstream": upstream_outputs,
        "inputs": input_files,
        "lib": code_tree,
        "lock": lock_hash,
    }
    return hash_bytes(json.dumps(payload, sort_keys=True, default=str).encode())


def of_stage(
    ws: Workspace, st: Stage, params: dict[str, Any], up: dict[str, RunRecord], code_tree: str
) -> str:
    """The fingerprint of ``st`` run with ``params`` on the runs it reads from (``up``:
    stage -> record), in ``ws`` whose :func:`code_tree_hash` is ``code_tree``."""
    lock = file_digest(ws.lock_file) if ws.lock_file.is_file() else None
    return stage_fingerprint(
        stage=st.name,
        code_hash=records.notebook_hashes(st.notebook)["code_hash"],
        params=params,
        upstream_outputs={
            s: {n: a["digest"] for n, a in rec["outputs"].items()} for s, rec in up.items()
        },
        input_files={**declared_inputs(ws, st.inputs), **parameter_inputs(ws, params)},
        code_tree=code_tree,
        lock_hash=lock,
    )


def declared_inputs(ws: Workspace, paths: tuple[str, ...]) -> dict[str, str | None]:
    """Hashes of a stage's declared input files (None for a missing file)."""
    out: dict[str, str | None] = {}
    for rel in paths:
        p = ws.root / rel
        out[rel] = hash_file(p) if p.is_file() else None
    return out


def parameter_inputs(ws: Workspace, params: dict[str, Any]) -> dict[str, str]:
    """What the files and dataset versions that parameter values name hold, so a changed
    file under an unchanged ``-p data.source=FILE`` (or a new version of the dataset a
    ``NAME`` names) reruns the stage instead of reusing a stale result.

    A string value naming an existing file (from the workspace root, or absolute) gives the
    file's hash; a folder, the hashes of its files; a dataset ``NAME[@V]`` or
    ``dataset:NAME[@V]`` in the store, the digest of the version it resolves to now."""
    from nbtrail.core.errors import NbtrailError
    from nbtrail.data.datasets import Datasets
    from nbtrail.data.statcache import FileStat, StatCache

    out: dict[str, str] = {}
    catalog = Datasets(ws)
    cache = StatCache(ws)  # an unchanged file costs a stat, not a read (as `data add` does)
    known: set[str] | None = None

    def digest(f: Path) -> str:
        st = FileStat.of(f)
        found = cache.lookup(st)
        if found is None:
            found = hash_file(f)
            cache.record(st, found)
        return found

    for key, value in sorted(params.items()):
        if not isinstance(value, str) or not value or len(value) > 4096 or "\n" in value:
            continue
        for part in value.split(","):  # e.g. monitor's comma-separated batches
            part = part.strip()
            path = Path(part) if Path(part).is_absolute() else ws.root / part
            try:
                if path.is_file():
                    out[f"{key}:{part}"] = digest(path)
                elif path.is_dir():
                    files = sorted(f for f in path.rglob("*") if f.is_file())
                    listing = "\n".join(f"{f.relative_to(path)} {digest(f)}" for f in files)
                    out[f"{key}:{part}"] = hash_bytes(listing.encode())
                else:
                    ref = part.removeprefix("dataset:")
                    known = set(catalog.names()) if known is None else known
                    if ref.partition("@")[0] in known:
                        out[f"{key}:{part}"] = catalog.get(ref).digest
            except (OSError, NbtrailError, ValueError):
                continue  # not a file or dataset after all; the stage itself will say so
    return out


def file_digest(path: Path) -> str:
    return hash_file(path)
