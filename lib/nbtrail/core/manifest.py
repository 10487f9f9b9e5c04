"""SHA-256 manifests of a folder: every file listed with its hash and size, and checked.

An export bundle carries one as ``manifest.json``; the export practice writes it and the
registry checks it before it promotes a version, so the check lives here, below both. The
manifest uses SHA-256 (not nbtrail's BLAKE3) so that a consumer verifies a folder with
``sha256sum`` or Python's ``hashlib``. The folder's digest is the SHA-256 of the manifest file
itself: pin it to catch a manifest rewritten together with the files.

The bundle's own ``load_bundle.py`` checks the same manifest without nbtrail installed
(``tests/test_export.py`` holds the two checks to the same verdicts).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from nbtrail.core import atomic
from nbtrail.core.errors import IntegrityError, NotFound
from nbtrail.core.hashing import sha256_file

MANIFEST = "manifest.json"
FORMAT = 1
ALGORITHM = "sha256"
# Never listed: Python writes __pycache__ when a bundle's load_bundle.py is imported in place.
IGNORED = frozenset({"__pycache__"})


@dataclass(frozen=True)
class Checked:
    """A folder that matched its manifest."""

    digest: str  # SHA-256 of manifest.json
    files: dict[str, str]  # relative path -> SHA-256


def listed_files(folder: Path) -> list[str]:
    """The files a manifest of ``folder`` lists: all but the manifest and ``IGNORED`` folders."""
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if p.is_file() and not (set(rel.parts) & IGNORED) and rel.as_posix() != MANIFEST:
            out.append(rel.as_posix())
    return out


def write_manifest(folder: str | os.PathLike[str]) -> str:
    """Hash every file of ``folder`` into ``manifest.json``; returns the manifest's SHA-256."""
    root = Path(folder)
    files = {
        rel: {"sha256": sha256_file(root / rel), "bytes": (root / rel).stat().st_size}
        for rel in listed_files(root)
    }
    manifest = {"format": FORMAT, "algorithm": ALGORITHM, "files": files}
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    atomic.write_text(root / MANIFEST, text)
    return hashlib.sha256(text.encode()).hexdigest()


def verify_manifest(
    folder: str | os.PathLike[str], *, expected_digest: str | None = None
) -> Checked:
    """Check every file of ``folder`` against its manifest (and the manifest against
    ``expected_digest``).

    Raises :class:`IntegrityError` naming the first file (``file``) that is missing, changed
    or not listed; :class:`NotFound` when there is no manifest.
    """
    root = Path(folder)
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise NotFound(f"{root}: not a bundle (no {MANIFEST})", path=str(root))
    raw = mpath.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if expected_digest is not None and digest != expected_digest:
        raise IntegrityError(
            f"{root}: {MANIFEST} does not match the recorded bundle digest "
            f"({digest[:12]}... != {expected_digest[:12]}...)",
            file=MANIFEST,
            path=str(root),
        )
    try:
        manifest = json.loads(raw)
        listed = manifest["files"]
        if manifest.get("algorithm") != ALGORITHM:
            raise ValueError(f"unknown algorithm {manifest.get('algorithm')!r}")
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"{root}: unreadable {MANIFEST}: {exc}", file=MANIFEST) from exc
    hashes: dict[str, str] = {}
    for rel, entry in sorted(listed.items()):
        p = root / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts or not p.is_file():
            raise IntegrityError(f"{root}: bundle file {rel} is missing", file=rel, path=str(root))
        got = sha256_file(p)
        if got != entry.get("sha256"):
            raise IntegrityError(
                f"{root}: bundle file {rel} does not match its manifest hash "
                f"(the file was changed after export)",
                file=rel,
                path=str(root),
                expected=entry.get("sha256"),
                actual=got,
            )
        hashes[rel] = got
    extra = sorted(set(listed_files(root)) - set(listed))
    if extra:
        raise IntegrityError(
            f"{root}: bundle file {extra[0]} is not listed in the manifest",
            file=extra[0],
            path=str(root),
        )
    return Checked(digest=digest, files=hashes)
