"""Content hashes: BLAKE3 over bytes and files (multi-threaded for large files), and SHA-256
of files for what leaves nbtrail (export bundles, checked with ``sha256sum`` elsewhere)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import blake3

ALGORITHM = "blake3"
_MMAP_THRESHOLD = 4 * 1024 * 1024


def hash_bytes(data: bytes) -> str:
    """Hex BLAKE3 digest of ``data``."""
    return blake3.blake3(data).hexdigest()


def hash_file(path: str | os.PathLike[str]) -> str:
    """Hex BLAKE3 digest of a file's bytes (memory-mapped and threaded when large)."""
    p = Path(path)
    size = p.stat().st_size
    if size >= _MMAP_THRESHOLD:
        hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
        hasher.update_mmap(p)
        return hasher.hexdigest()
    return blake3.blake3(p.read_bytes()).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 digest of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
