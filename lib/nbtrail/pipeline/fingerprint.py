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


def declared_inputs(ws: Workspace, paths: tuple[str, ...]) -> dict[str, str | None]:
    """Hashes of a stage's declared input files (None for a missing file)."""
    out: dict[str, str | None] = {}
    for rel in paths:
        p = ws.root / rel
        out[rel] = hash_file(p) if p.is_file() else None
    return out


def file_digest(path: Path) -> str:
    return hash_file(path)
