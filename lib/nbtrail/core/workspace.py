"""Where things live: every path nbtrail uses is resolved from one workspace root.

A :class:`Workspace` is passed explicitly to everything that touches disk; nothing in the
library keeps a current directory or a global root.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nbtrail.core.errors import ConfigError

PIPELINE_FILE = Path("params") / "pipeline.yaml"
ROOT_ENV = "NBTRAIL_ROOT"


class Workspace:
    """The project root (holding ``params/pipeline.yaml``) and the paths below it.

    Immutable and compared by root, as a frozen dataclass would be; written out by hand
    because ``dataclasses`` (with ``inspect``) would double the CLI's start-up."""

    __slots__ = ("root",)
    root: Path

    def __init__(self, root: Path) -> None:
        object.__setattr__(self, "root", root)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Workspace):
            return NotImplemented
        return self.root == other.root

    def __hash__(self) -> int:
        return hash((self.root,))

    def __repr__(self) -> str:
        return f"Workspace(root={self.root!r})"

    def __reduce__(self) -> tuple[type[Workspace], tuple[Path]]:
        return (Workspace, (self.root,))

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

    def bundle_dir(self, name: str, version: int | str) -> Path:
        """Where the export stage publishes a model version's bundle."""
        return self.exports_dir / name / str(version)

    @property
    def site_dir(self) -> Path:
        return self.workspace_dir / "site"

    @property
    def assets_dir(self) -> Path:
        """Shared static files (one copy of Evidently's JS bundle) that saved reports load."""
        return self.workspace_dir / "assets"

    @property
    def sweeps_dir(self) -> Path:
        """One JSON record per sweep (``nbtrail sweep``): its members and their runs."""
        return self.workspace_dir / "sweeps"

    @property
    def sweeps_spec_dir(self) -> Path:
        return self.params_dir / "sweeps"

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
