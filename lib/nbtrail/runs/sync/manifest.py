"""A run's manifest on a remote: every file of its run folder, named by content hash.

The remote keeps a run as ``runs/<run_id>.json`` (this manifest) beside the data's
``objects/``: each file of the run folder (record, executed notebook, source copy, context,
state, kernel log, ``outputs/``), any output the record names elsewhere under ``workspace/``
(the export bundle it published), and the shared ``workspace/assets`` files its saved reports load, is one object there, stored once however many runs share it. The manifest
also lists the runs the run read from (``upstream``) and the dataset versions it read or
wrote, so a pull can fetch what the run's reuse and reproduction need.

Paths are relative to the project root and must lie under ``workspace/``; a manifest naming
anything else (``..``, an absolute path, a hidden name, another run's folder, the data store,
the index or a log) is refused (:class:`RemoteRefused`), so a hostile remote cannot write
outside the workspace nor over what only this workspace writes.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from nbtrail.core.errors import DataError, IntegrityError, RemoteRefused
from nbtrail.core.hashing import hash_file
from nbtrail.core.workspace import Workspace
from nbtrail.data.versions import parse_ref
from nbtrail.runs import records
from nbtrail.runs.record_types import RunRecord

FORMAT = "nbtrail-run/1"
_HEX = set("0123456789abcdef")
RUN_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class RunManifest:
    """What a pushed run is: its files (root-relative path -> BLAKE3 digest and size)."""

    run_id: str
    stage: str
    status: str
    files: dict[str, str]
    sizes: dict[str, int] = field(default_factory=dict)
    upstream: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)

    @property
    def record_path(self) -> str:
        """The root-relative path of the run's ``record.json``."""
        return f"workspace/runs/{self.run_id}/{records.RECORD_FILE}"

    @property
    def folder_prefix(self) -> str:
        return f"workspace/runs/{self.run_id}/"

    def to_bytes(self) -> bytes:
        body = {
            "format": FORMAT,
            "run_id": self.run_id,
            "stage": self.stage,
            "status": self.status,
            "files": dict(sorted(self.files.items())),
            "sizes": dict(sorted(self.sizes.items())),
            "upstream": sorted(self.upstream),
            "datasets": sorted(self.datasets),
        }
        return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes, *, run_id: str, url: str) -> RunManifest:
        """Parse and check a manifest read from ``url`` under the name ``run_id``."""
        where = f"remote {url}: manifest of run {run_id}"
        try:
            body = json.loads(data)
            if body.get("format") != FORMAT:
                raise ValueError(f"unknown format {body.get('format')!r}")
            m = cls(
                run_id=str(body["run_id"]),
                stage=str(body["stage"]),
                status=str(body["status"]),
                files={str(k): str(v) for k, v in dict(body["files"]).items()},
                sizes={str(k): int(v) for k, v in dict(body.get("sizes") or {}).items()},
                upstream=[str(u) for u in body.get("upstream") or []],
                datasets=[str(d) for d in body.get("datasets") or []],
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise DataError(f"{where} is unreadable: {exc}") from exc
        if m.run_id != run_id:
            raise RemoteRefused(f"{where} names another run ({m.run_id[:80]!r}); refused")
        m.check(where)
        return m

    def check(self, where: str) -> None:
        """Refuse (:class:`RemoteRefused`) a manifest that could write where it must not: a
        path outside ``workspace/`` or in another run's folder, a path that is also another
        path's folder, a bad object id or size, an upstream run or dataset with a hostile name."""
        for path, digest in self.files.items():
            check_path(path, where=where, run_id=self.run_id)
            if len(digest) != 64 or not set(digest) <= _HEX:
                raise RemoteRefused(f"{where}: {path} has a bad object id {digest[:80]!r}")
        folders = {str(p) for path in self.files for p in PurePosixPath(path).parents}
        clash = sorted(folders & set(self.files))
        if clash:
            raise RemoteRefused(f"{where}: {clash[0]!r} is both a file and a folder; refused")
        for path, size in self.sizes.items():
            if size < 0:
                raise RemoteRefused(f"{where}: {path[:80]!r} has a negative size; refused")
        for up in self.upstream:
            if not RUN_ID.match(up):
                raise RemoteRefused(f"{where}: refusing the upstream run {up[:80]!r}")
        for ref in self.datasets:
            try:
                parse_ref(ref)
            except DataError as exc:
                raise RemoteRefused(f"{where}: refusing the dataset {ref[:80]!r}") from exc
        if self.record_path not in self.files:
            raise DataError(f"{where} lists no {records.RECORD_FILE}")


# Where no pulled file may land outside its own run folder: other runs, the data store, the
# index, the append-only logs (merged entry by entry instead), scratch space.
_PROTECTED = ("runs/", "data/", "tmp/", "index.sqlite", "registry/", "openlineage/")
_PROTECTED_FILES = ("monitoring/history.jsonl", "monitoring/watched.jsonl")


def check_path(path: str, *, where: str, run_id: str | None = None) -> str:
    """``path`` if it is a plain relative path under ``workspace/`` that a pulled run may
    write: no ``..``, not absolute, no hidden part (``.pull.*`` staging, ``.lock``), and
    outside ``workspace/runs/`` only where no other run, store or log lives. Otherwise
    :class:`RemoteRefused` naming it."""
    p = PurePosixPath(path)
    parts = p.parts
    if p.is_absolute() or ".." in parts or len(parts) < 2 or parts[0] != "workspace":
        raise RemoteRefused(f"{where}: refusing the path {path[:200]!r} (not under workspace/)")
    if any(part.startswith(".") for part in parts) or "\\" in path or "\x00" in path:
        raise RemoteRefused(f"{where}: refusing the path {path[:200]!r} (a hidden or odd name)")
    own = run_id is not None and len(parts) > 3 and parts[1:3] == ("runs", run_id)
    rest = "/".join(parts[1:])
    hit = [q for q in _PROTECTED if rest.startswith(q)]
    if not own and (hit or rest in _PROTECTED_FILES):
        raise RemoteRefused(
            f"{where}: refusing the path {path[:200]!r} (outside its run folder, "
            "where only this workspace writes)"
        )
    return path


def _folder_files(folder: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if not name.startswith(".") and p.is_file() and not p.is_symlink():
                out.append(p)
    return out


def _output_files(ws: Workspace, record: RunRecord) -> list[Path]:
    """Outputs the record names under ``workspace/`` but outside its own run folder, and the
    export bundle it published (``extra.bundle.path``, e.g. ``workspace/exports/NAME/V``)."""
    out: list[Path] = []
    folder = ws.run_dir(record["run_id"]).resolve()
    top = ws.workspace_dir.resolve()
    bundle = record.get("extra", {}).get("bundle")
    published = [bundle.get("path")] if isinstance(bundle, dict) else []
    for rel in [*(a.get("path") for a in record["outputs"].values()), *published]:
        if not isinstance(rel, str) or not rel:
            continue
        p = (ws.root / rel).resolve()
        if folder in p.parents or top not in p.parents:
            continue
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            out.extend(_folder_files(p))
    return out


def _asset_files(ws: Workspace, files: list[Path]) -> list[Path]:
    """The shared files under ``workspace/assets`` (Evidently's script) that the run's saved
    reports load, so they render where the run is pulled."""
    try:
        assets = sorted(p for p in ws.assets_dir.iterdir() if p.is_file())
    except FileNotFoundError:
        return []
    wanted: set[Path] = set()
    for f in files:
        if f.suffix == ".html":
            text = f.read_text(errors="replace")
            wanted |= {a for a in assets if f"assets/{a.name}" in text}
    return sorted(wanted)


def build(ws: Workspace, record: RunRecord) -> RunManifest:
    """Hash every file of the run; an output whose bytes no longer match the digest its
    record holds raises :class:`IntegrityError` (corrupted outputs are never published)."""
    run_id = record["run_id"]
    files: dict[str, str] = {}
    sizes: dict[str, int] = {}
    found = [*_folder_files(ws.run_dir(run_id)), *_output_files(ws, record)]
    for p in [*found, *_asset_files(ws, found)]:
        rel = ws.relative(p)
        files[rel] = hash_file(p)
        sizes[rel] = p.stat().st_size
    for name, art in record["outputs"].items():
        out = art.get("path")
        if out and out in files and files[out] != art["digest"]:
            raise IntegrityError(
                f"run {run_id}: output {name!r} ({out}) no longer matches its record "
                f"(hashes to {files[out][:12]}, recorded {art['digest'][:12]})",
                hint="re-run the stage; a changed output is never pushed",
                path=out,
            )
    datasets = {a["ref"] for a in record["inputs"] if a.get("kind") == "dataset" and a.get("ref")}
    datasets |= {
        a["ref"] for a in record["outputs"].values() if a.get("kind") == "dataset" and a.get("ref")
    }
    return RunManifest(
        run_id=run_id,
        stage=record["stage"],
        status=records.effective_status(record),
        files=files,
        sizes=sizes,
        upstream=sorted(set(record["upstream"].values())),
        datasets=sorted(str(d) for d in datasets),
    )


def dataset_names(refs: list[str]) -> set[str]:
    """The dataset names of ``NAME@VERSION`` references."""
    return {r.partition("@")[0] for r in refs if r}


def manifest_key(root: str, run_id: str) -> str:
    """Where the manifest of ``run_id`` lives on a remote rooted at ``root``."""
    return f"{root}/runs/{run_id}.json"
