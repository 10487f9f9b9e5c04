"""A bundle folder on disk: written atomically, verified against its manifest, copied.

A folder appears whole or not at all: it is built beside its destination, checked, then
renamed into place. Every read of a bundle goes through :func:`verify_bundle`, which checks
each file against ``manifest.json`` (:mod:`nbtrail.core.manifest`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrail.core import atomic
from nbtrail.core.errors import DataError, NotFound
from nbtrail.core.manifest import MANIFEST, verify_manifest, write_manifest
from nbtrail.practices import registry

if TYPE_CHECKING:
    from nbtrail.core.workspace import Workspace

# The version of bundle.json's layout. 2: no ``created`` time (a bundle made twice from the
# same inputs is the same bytes); when the model was trained is ``lineage.trained``.
BUNDLE_FORMAT = 2


@dataclass(frozen=True)
class Bundle:
    """A written, verified bundle."""

    path: Path
    digest: str  # SHA-256 of manifest.json
    files: dict[str, str]  # relative path -> SHA-256
    meta: dict[str, Any]  # bundle.json


def verify_bundle(folder: str | os.PathLike[str], *, expected_digest: str | None = None) -> Bundle:
    """Check every file against the manifest (and the manifest against ``expected_digest``).

    Raises :class:`IntegrityError` naming the first file that is missing, changed or not
    listed; :class:`NotFound` when there is no manifest.
    """
    root = Path(folder)
    checked = verify_manifest(root, expected_digest=expected_digest)
    meta = json.loads((root / "bundle.json").read_text()) if "bundle.json" in checked.files else {}
    return Bundle(path=root, digest=checked.digest, files=checked.files, meta=meta)


def _prepare_dest(dest: Path, overwrite: bool) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())) and not overwrite:
        raise DataError(
            f"{dest} exists and is not empty",
            hint="choose a new or empty folder",
            path=str(dest),
        )


def _swap_in(tmp: Path, dest: Path) -> None:
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
    os.replace(tmp, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _place(
    dest: Path, files: Mapping[str, bytes], *, overwrite: bool, expected_digest: str | None
) -> Bundle:
    """Write ``files`` into a temporary folder beside ``dest`` (with a new manifest unless
    ``files`` holds one), verify it, rename it into place, verify the result."""
    _prepare_dest(dest, overwrite)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        for rel, data in files.items():
            atomic.write_bytes(tmp / rel, data)
        if MANIFEST not in files:
            write_manifest(tmp)
        verify_manifest(tmp, expected_digest=expected_digest)
        _swap_in(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return verify_bundle(dest, expected_digest=expected_digest)


def write_folder(
    dest: str | os.PathLike[str], files: Mapping[str, bytes], *, overwrite: bool = False
) -> Bundle:
    """Write ``files`` (relative path -> bytes) and their manifest as the bundle ``dest``.

    Refuses (:class:`DataError`) a ``dest`` that exists and is not empty unless
    ``overwrite``; the folder appears atomically.
    """
    return _place(Path(dest), files, overwrite=overwrite, expected_digest=None)


def copy_bundle(
    src: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    expected_digest: str | None = None,
    overwrite: bool = False,
) -> Bundle:
    """Verify ``src``, copy it to ``dest`` atomically, verify the copy."""
    source = verify_bundle(src, expected_digest=expected_digest)
    files = {rel: (source.path / rel).read_bytes() for rel in source.files}
    files[MANIFEST] = (source.path / MANIFEST).read_bytes()
    return _place(Path(dest), files, overwrite=overwrite, expected_digest=source.digest)


def bundle_dir(ws: Workspace, name: str, version: int) -> Path:
    """Where the export stage keeps a version's bundle: ``workspace/exports/<name>/<version>``."""
    return ws.bundle_dir(name, version)


def export_version(ws: Workspace, ref: str, dest: str | os.PathLike[str]) -> Bundle:
    """``nbtrail export NAME@V|ALIAS DIR``: copy the verified bundle of a registered version.

    The bundle is the one the export stage wrote to ``workspace/exports/<name>/<version>``;
    when the registry recorded its digest, the copy is checked against it.
    """
    entry = registry.resolve(ws, ref)
    src = bundle_dir(ws, entry["name"], entry["version"])
    if not (src / MANIFEST).is_file():
        raise NotFound(
            f"no export bundle for {entry['name']}@{entry['version']} in {ws.relative(src)}",
            hint="run the export stage for this model version first",
        )
    return copy_bundle(src, dest, expected_digest=entry.get("bundle_digest"))
