"""Content hashes: BLAKE3 over bytes and files (multi-threaded for large files)."""

from __future__ import annotations

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
