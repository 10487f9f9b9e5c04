"""Model versions: registering a file under a name, checking it, listing versions."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nbtrail.core import db
from nbtrail.core.errors import IntegrityError, NotFound, ParameterError
from nbtrail.core.hashing import hash_file
from nbtrail.core.manifest import MANIFEST, verify_manifest
from nbtrail.core.workspace import Workspace
from nbtrail.data.datasets import check_name
from nbtrail.practices.registry.cache import aliases_of, connect, get_version, now, row, writing

VERDICTS = ("passed", "failed", "unknown")


def _verdict(verdict: bool | str | None) -> str:
    if verdict is None:
        return "unknown"
    if isinstance(verdict, bool):
        return "passed" if verdict else "failed"
    v = str(verdict).lower()
    if v not in VERDICTS:
        raise ParameterError(f"verdict must be a bool or one of {', '.join(VERDICTS)}, not {v!r}")
    return v


def _artifact(ws: Workspace, path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return p if p.is_absolute() else ws.root / p


def verify_artifact(ws: Workspace, entry: Mapping[str, Any]) -> None:
    """Re-hash a version's artifact; :class:`IntegrityError` naming the file if it changed.

    When the version has an export bundle in ``workspace/exports/<name>/<version>``, its
    manifest and files are checked too (against the recorded bundle digest).
    """
    p = _artifact(ws, entry["artifact_path"])
    if not p.is_file():
        raise NotFound(
            f"{entry['name']}@{entry['version']}: artifact {ws.relative(p)} is missing",
            path=str(p),
        )
    got = hash_file(p)
    if got != entry["digest"]:
        raise IntegrityError(
            f"{entry['name']}@{entry['version']}: {ws.relative(p)} does not match its registered "
            f"hash (changed after registration)",
            file=str(p),
            expected=entry["digest"],
            actual=got,
        )
    folder = ws.bundle_dir(entry["name"], entry["version"])
    if entry.get("bundle_digest") or (folder / MANIFEST).is_file():
        verify_manifest(folder, expected_digest=entry.get("bundle_digest"))


@db.recovering
def register_model(
    ws: Workspace,
    name: str,
    *,
    artifact_path: str | os.PathLike[str],
    digest: str,
    run_id: str | None,
    metrics: Mapping[str, Any] | None,
    verdict: bool | str | None,
) -> int:
    """Record a model file as the next version of ``name``; returns the version number.

    ``digest`` is the BLAKE3 the producing run recorded for the file; it is checked against
    the file now (:class:`IntegrityError` if they differ). Registering the same bytes again
    under the same name returns the existing version (so re-runs do not add versions, nor
    does the second call made on a fresh index when the index was corrupt).
    ``verdict``: True/``"passed"``, False/``"failed"``, None/``"unknown"``.
    """
    check_name(name, "model name")
    p = _artifact(ws, artifact_path)
    if not p.is_file():
        raise NotFound(f"cannot register {name}: no file {p}", path=str(p))
    got = hash_file(p)
    if got != digest:
        raise IntegrityError(
            f"cannot register {name}: {ws.relative(p)} hashes to {got[:12]}..., "
            f"not the recorded {digest[:12]}...",
            file=str(p),
        )
    v = _verdict(verdict)
    metrics_json = json.dumps(dict(metrics or {}), sort_keys=True, default=float)
    con = connect(ws)
    try:
        with writing(ws, con) as write:
            row = con.execute(
                "SELECT version FROM registry_versions WHERE name=? AND digest=?", (name, digest)
            ).fetchone()
            if row:
                return int(row["version"])
            (last,) = con.execute(
                "SELECT COALESCE(MAX(version), 0) FROM registry_versions WHERE name=?", (name,)
            ).fetchone()
            version = int(last) + 1
            write(
                {
                    "type": "version",
                    "name": name,
                    "version": version,
                    "digest": digest,
                    "artifact_path": ws.relative(p),
                    "run_id": run_id,
                    "metrics": json.loads(metrics_json),
                    "verdict": v,
                    "created": now(),
                    "bundle_digest": None,
                }
            )
            return version
    finally:
        con.close()


@db.recovering
def set_bundle(ws: Workspace, name: str, version: int, bundle_digest: str) -> None:
    """Record the SHA-256 of the export bundle's manifest for a version."""
    con = connect(ws)
    try:
        with writing(ws, con) as write:
            get_version(con, name, version)  # NotFound if there is no such version
            write(
                {
                    "type": "bundle",
                    "name": name,
                    "version": int(version),
                    "bundle_digest": bundle_digest,
                }
            )
    finally:
        con.close()


@db.recovering
def list_versions(ws: Workspace, name: str | None = None) -> list[dict[str, Any]]:
    """Every registered version (newest first per name) with its current aliases."""
    con = connect(ws)
    try:
        sql = "SELECT * FROM registry_versions"
        args: tuple = ()
        if name is not None:
            sql += " WHERE name=?"
            args = (check_name(name, "model name"),)
        rows = [row(r) for r in con.execute(sql + " ORDER BY name, version DESC", args)]
        alias_maps = {n: aliases_of(con, n) for n in {r["name"] for r in rows}}
        for r in rows:
            r["aliases"] = sorted(a for a, v in alias_maps[r["name"]].items() if v == r["version"])
        return rows
    finally:
        con.close()


@db.recovering
def find_by_digest(ws: Workspace, name: str, digest: str) -> dict[str, Any] | None:
    """The version of ``name`` registered with artifact ``digest``, if any."""
    con = connect(ws)
    try:
        r = con.execute(
            "SELECT * FROM registry_versions WHERE name=? AND digest=?", (name, digest)
        ).fetchone()
        return None if r is None else row(r)
    finally:
        con.close()
