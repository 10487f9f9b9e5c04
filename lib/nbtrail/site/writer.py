"""The incremental writer: a file of the site is written only when its bytes change.

Every page and asset goes through :class:`SiteWriter`, which compares the new bytes with
the file already there and leaves an identical file alone (its mtime too), so a republish
that changes nothing rewrites nothing. What the site holds is listed in its state file
(``.nbtrail-site.json``): the files written, their sizes and mtimes, and the keys of what
each part was built from. Files that a previous publish wrote and this one did not are
removed; nothing else in the folder is ever touched. Every file is replaced atomically (a
temp file renamed over it, removed on error), and :meth:`SiteWriter.undo` takes back what a
failed publish created.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbtrail.core import atomic

STATE_FILE = ".nbtrail-site.json"
STATE_FORMAT = 1


def file_stat(path: Path) -> list[int] | None:
    """``[size, mtime_ns]`` of a file, or None when it is missing."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def load_state(out: Path) -> dict[str, Any]:
    """The previous publish's state, or an empty one (missing, unreadable, other format)."""
    try:
        state = json.loads((out / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        return {}
    return state


def intact(out: Path, files: dict[str, Any]) -> bool:
    """Whether every file in ``files`` (rel path -> [size, mtime_ns]) is still as written."""
    return all(file_stat(out / rel) == stat for rel, stat in files.items())


@dataclass
class SiteWriter:
    """Writes files under ``out`` only when their content differs; remembers what it did."""

    out: Path
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    files: dict[str, list[int] | None] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)  # files that were not there before

    def write(self, rel: str, data: bytes | str) -> Path:
        """Put ``data`` at ``out/rel`` unless the file there already holds exactly it."""
        raw = data.encode("utf-8") if isinstance(data, str) else data
        path = self.out / rel
        if path.is_file() and path.stat().st_size == len(raw) and path.read_bytes() == raw:
            self.unchanged.append(rel)
        else:
            new = not path.exists()
            atomic.write_bytes(path, raw, mode=0o644)  # a page to publish, readable by all
            self.written.append(rel)
            if new:
                self.created.append(rel)
        self.files[rel] = file_stat(path)
        return path

    def copy(self, rel: str, src: Path) -> Path:
        """Copy ``src`` to ``out/rel`` unless an identical file is already there."""
        path = self.out / rel
        size = src.stat().st_size
        if path.is_file() and path.stat().st_size == size and _same_bytes(path, src):
            self.unchanged.append(rel)
        else:
            new = not path.exists()
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            try:
                shutil.copyfile(src, tmp)
                tmp.chmod(0o644)
                os.replace(tmp, path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            self.written.append(rel)
            if new:
                self.created.append(rel)
        self.files[rel] = file_stat(path)
        return path

    def keep(self, files: dict[str, Any]) -> None:
        """Count files of an earlier publish as part of this one without touching them."""
        for rel, stat in files.items():
            self.files[rel] = stat
            self.unchanged.append(rel)

    def prune(self, previous: dict[str, Any]) -> list[str]:
        """Remove the files an earlier publish wrote that this one did not; empty folders too."""
        return self._remove(sorted(set(previous) - set(self.files)))

    def undo(self) -> list[str]:
        """After a failed publish: remove the files this writer created and the state file,
        so what is left never passes for a finished site; returns what was removed."""
        removed = self._remove([*self.created, STATE_FILE])
        self.created.clear()
        return removed

    def _remove(self, rels: list[str]) -> list[str]:
        removed = []
        for rel in rels:
            path = self.out / rel
            if ".." in Path(rel).parts or not path.is_file():
                continue
            path.unlink()
            removed.append(rel)
            parent = path.parent
            while parent != self.out and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
        return removed

    def save_state(self, state: dict[str, Any]) -> None:
        """Write the state file (only if it changed, like every other file)."""
        body = {**state, "format": STATE_FORMAT, "files": dict(sorted(self.files.items()))}
        raw = json.dumps(body, indent=1, sort_keys=True) + "\n"
        path = self.out / STATE_FILE
        if not (path.is_file() and path.read_text() == raw):
            atomic.write_text(path, raw)


def _same_bytes(a: Path, b: Path, chunk: int = 1 << 20) -> bool:
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            x, y = fa.read(chunk), fb.read(chunk)
            if x != y:
                return False
            if not x:
                return True
