"""What a publish was built from, as keys, so a republish with nothing new does nothing.

The *site key* covers everything the site reads: the stat (size, mtime) of every file in the
run folders, the registry and monitoring logs, ``params/pipeline.yaml`` and the export
bundles' cards and manifests, the publish options, and the site's own code and templates.
It costs directory listings and stats, no file reads, so an unchanged workspace is
recognised in milliseconds without opening the index or importing nbconvert.

A *run key* covers one run's page: its folder's files, the records of the runs in its
lineage, which of those are in the site, and the options. A new run changes the site key
(the index pages are rebuilt) but not the run keys of the other runs (their pages are kept).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from nbtrail.core.workspace import Workspace


def _stat(path: Path) -> list[Any]:
    try:
        st = path.stat()
    except OSError:
        return [path.name, None]
    return [path.name, st.st_size, st.st_mtime_ns]


def _tree(folder: Path) -> list[Any]:
    """Stats of every file below ``folder``, in a stable order."""
    out: list[Any] = []
    for base, dirs, files in os.walk(folder):
        dirs.sort()
        rel = os.path.relpath(base, folder)
        out.append([rel, [_stat(Path(base) / f) for f in sorted(files)]])
    return out


def digest(obj: Any) -> str:
    """A short SHA-256 of ``obj`` as canonical JSON."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@cache
def code_key() -> str:
    """The site package's own files (code, templates, static) and the versions of the
    libraries that shape its pages. Cached per process: installed files do not change."""
    here = Path(__file__).parent
    files = sorted(p for p in here.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    h = hashlib.sha256()
    for p in files:
        h.update(p.relative_to(here).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    for dist in ("nbtrail", "nbconvert", "evidently", "jinja2", "bleach"):
        try:
            h.update(f"{dist}={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist}=none".encode())
    return h.hexdigest()[:32]


def site_key(ws: Workspace, options: dict[str, Any]) -> str:
    """The key of the whole site (see the module docstring)."""
    runs = []
    if ws.runs_dir.is_dir():
        for folder in sorted(ws.runs_dir.iterdir()):
            if folder.is_dir() and not folder.name.startswith("."):
                runs.append([folder.name, _tree(folder)])
    exports = []
    if ws.exports_dir.is_dir():
        for card in sorted(ws.exports_dir.glob("*/*/model_card.html")):
            exports.append(
                [card.parent.as_posix(), _stat(card), _stat(card.with_name("manifest.json"))]
            )
    logs = [_stat(p) for p in (ws.registry_log, ws.monitoring_log, ws.pipeline_file)]
    return digest([code_key(), options, runs, exports, logs])


def run_key(
    ws: Workspace, run_id: str, lineage: Iterable[tuple[str, bool]], options: dict[str, Any]
) -> str:
    """The key of one run's pages: ``lineage`` is (run id, published?) for each run its
    lineage graph shows."""
    others = [
        [rid, shown, _stat(ws.run_dir(rid) / "record.json")] for rid, shown in sorted(lineage)
    ]
    return digest([code_key(), options, run_id, _tree(ws.run_dir(run_id)), others])
