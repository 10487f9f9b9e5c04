"""What produced a run: git commit and dirty flag, Python, platform and package versions."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from nbtrail.core.hashing import hash_file

KEY_PACKAGES = (
    "nbtrail",
    "papermill",
    "nbclient",
    "ipykernel",
    "scikit-learn",
    "pandas",
    "numpy",
    "scipy",
    "pyarrow",
    "evidently",
    "skops",
    "skl2onnx",
    "onnxruntime",
)


def git_state(root: Path) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` for the repository at ``root``."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "-C", str(root), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=normal")
    return {"commit": commit.strip(), "dirty": bool(status and status.strip())}


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    return out


def environment(lock_file: Path | None = None) -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "lock_hash": hash_file(lock_file) if lock_file and lock_file.is_file() else None,
    }
