"""Where things live: every path nbtrail uses is resolved from one workspace root.

A :class:`Workspace` is passed explicitly to everything that touches disk; nothing in the
library keeps a current directory or a global root.

It also holds the two helpers for the workspace's append-only JSON-lines logs (the registry's
events, the monitoring history): :func:`log_writer` appends whole lines under an exclusive
``flock`` (one ``write`` then ``fsync`` per line, so two writers never interleave) and
:func:`read_log` returns the complete lines after a byte offset, skipping a torn last line.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbtrail.core.errors import ConfigError

PIPELINE_FILE = Path("params") / "pipeline.yaml"
ROOT_ENV = "NBTRAIL_ROOT"


@dataclass(frozen=True)
class Workspace:
    """The project root (holding ``params/pipeline.yaml``) and the paths below it."""

    root: Path

    @classmethod
    def find(cls, start: str | os.PathLike[str] | None = None) -> Workspace:
        """The workspace holding ``start`` (default: ``$NBTRAIL_ROOT``, else the cwd)."""
        if start is None:
            env = os.environ.get(ROOT_ENV)
            start = env if env else Path.cwd()
        here = Path(start).resolve()
        for candidate in (here, *here.parents):
            if (candidate / PIPELINE_FILE).is_file():
                return cls(candidate)
        raise ConfigError(
            f"no {PIPELINE_FILE} found in {here} or any folder above it",
            hint="run nbtrail from inside an nbtrail project, or set NBTRAIL_ROOT",
        )

    # Inputs the user edits
    @property
    def params_dir(self) -> Path:
        return self.root / "params"

    @property
    def pipeline_file(self) -> Path:
        return self.root / PIPELINE_FILE

    @property
    def notebooks_dir(self) -> Path:
        return self.root / "notebooks"

    @property
    def lib_dir(self) -> Path:
        return self.root / "lib"

    @property
    def lock_file(self) -> Path:
        return self.root / "requirements.lock"

    # What runs produce
    @property
    def workspace_dir(self) -> Path:
        return self.root / "workspace"

    @property
    def runs_dir(self) -> Path:
        return self.workspace_dir / "runs"

    @property
    def data_dir(self) -> Path:
        return self.workspace_dir / "data"

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def index_path(self) -> Path:
        return self.workspace_dir / "index.sqlite"

    @property
    def registry_log(self) -> Path:
        """The model registry's append-only event log (the source of its index tables)."""
        return self.workspace_dir / "registry" / "events.jsonl"

    @property
    def monitoring_log(self) -> Path:
        """The monitoring history's append-only log (the source of ``monitor_history``)."""
        return self.workspace_dir / "monitoring" / "history.jsonl"

    @property
    def exports_dir(self) -> Path:
        return self.workspace_dir / "exports"

    @property
    def site_dir(self) -> Path:
        return self.workspace_dir / "site"

    @property
    def assets_dir(self) -> Path:
        """Shared static files (one copy of Evidently's JS bundle) that saved reports load."""
        return self.workspace_dir / "assets"

    @property
    def tmp_dir(self) -> Path:
        """Scratch space on the workspace's own filesystem, so renames are atomic."""
        return self.workspace_dir / "tmp"

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def relative(self, path: str | os.PathLike[str]) -> str:
        """``path`` relative to the root when it lies inside it (for records and messages)."""
        p = Path(path)
        try:
            return p.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(p)


def _jsonable(o: Any) -> Any:
    item = getattr(o, "item", None)  # numpy scalars
    return item() if callable(item) else str(o)


def encode_line(record: Mapping[str, Any]) -> bytes:
    """One log line: compact, key-sorted JSON and a newline."""
    text = json.dumps(dict(record), sort_keys=True, separators=(",", ":"), default=_jsonable)
    return (text + "\n").encode()


@contextmanager
def log_writer(path: Path) -> Iterator[Callable[[Mapping[str, Any]], None]]:
    """Hold the exclusive lock on the log at ``path``; yields ``append(record)``.

    Each append is one ``os.write`` of the whole line on an ``O_APPEND`` descriptor followed by
    ``os.fsync``. If the file does not end in a newline (a writer crashed mid-line), the torn
    fragment is closed with one first, so it stays one unreadable line that readers skip.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if created:
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

        def append(record: Mapping[str, Any]) -> None:
            data = encode_line(record)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data
            view = memoryview(data)
            while view:  # one write in practice; loop only on a short write
                view = view[os.write(fd, view) :]
            os.fsync(fd)

        yield append
    finally:
        os.close(fd)  # releases the lock


def log_size(path: Path) -> int:
    """The log's size in bytes (0 when it does not exist yet)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def read_log(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The records on complete lines after byte ``offset`` and the offset just past them.

    A last line without its newline (being written, or torn by a crash) is left for later;
    a complete line that is not a JSON object is skipped.
    """
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    out: list[dict[str, Any]] = []
    for line in data[:end].splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out, offset + end
