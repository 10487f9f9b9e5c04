"""What produced a run: git commit and dirty flag, Python, platform, package versions and the
thread settings its kernel started with."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Mapping
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

# The thread pools of the numeric libraries a kernel loads: OpenMP (scikit-learn), OpenBLAS
# and MKL (numpy, scipy). Their sizes are part of what produced a model: scikit-learn's
# HistGradientBoosting models store the OpenMP thread count they were fitted with, so the same
# fit with another count is other bytes.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


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


def environment(
    lock_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The interpreter, platform, key package versions, lock hash, and the thread settings
    of ``environ`` (the environment a stage's kernel gets; default: this process's)."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "lock_hash": hash_file(lock_file) if lock_file and lock_file.is_file() else None,
        "threads": threads(os.environ if environ is None else environ),
    }


def threads(environ: Mapping[str, str]) -> dict[str, Any]:
    """``{"cpus": n, "env": {var: value}}``: the CPUs this process may run on and the
    thread-pool variables (:data:`THREAD_VARS`) set in ``environ``. A library left without
    its variable sizes its pool from the CPUs (scikit-learn: the physical cores among them)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpus": cpus, "env": {v: environ[v] for v in THREAD_VARS if environ.get(v)}}


def thread_settings(recorded: Mapping[str, Any]) -> dict[str, str | None]:
    """The thread-pool variables to start a reproduction's kernel with: each as ``recorded``
    (by :func:`threads`) had it, ``None`` (unset) where it was not set."""
    env = recorded.get("env", {})
    return {v: env.get(v) for v in THREAD_VARS}
