"""Helpers to copy the real project (notebooks and params) into a temporary root and run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# the thread pools (OpenMP, BLAS) whose size tests/conftest.py sets for the tests' processes
THREAD_POOLS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def make_project(root: Path) -> Path:
    """A copy of the project's notebooks and params (the pipeline) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("notebooks", "params", "examples"):
        shutil.copytree(REPO / name, root / name)
    (root / "workspace").mkdir(exist_ok=True)
    shutil.copyfile(REPO / "requirements.lock", root / "requirements.lock")
    return root


def one_stage_project(root: Path, stage: str, parameters: str, *cells: str) -> Path:
    """A project of one stage, ``stage``, whose notebook is a ``parameters`` cell and
    ``cells``: a pipeline that starts one small kernel, for tests about the runner itself."""
    import nbformat

    for d in ("params", "notebooks", "data", "workspace"):
        (root / d).mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(c) for c in cells)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, root / "notebooks" / f"{stage}.ipynb")
    (root / "params" / "pipeline.yaml").write_text(
        f"version: 1\nstages:\n  {stage}:\n    notebook: notebooks/{stage}.ipynb\n"
    )
    return root


def nbtrail(
    root: Path,
    *args: str,
    timeout: float = 600,
    environ: dict[str, str | None] | None = None,
    **kw,
) -> subprocess.CompletedProcess:
    """Run the CLI as a user would, in its own process; ``environ`` sets variables of its
    environment (``None``: unset)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("NBTRAIL_ROOT", None)
    env.pop("NBTRAIL_RUN_DIR", None)
    for var, value in (environ or {}).items():
        if value is None:
            env.pop(var, None)
        else:
            env[var] = value
    return subprocess.run(
        [sys.executable, "-m", "nbtrail", "-C", str(root), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        **kw,
    )


def records(root: Path) -> list[dict]:
    out = []
    for f in sorted((root / "workspace" / "runs").glob("*/record.json")):
        out.append(json.loads(f.read_text()))
    return out


def by_stage(root: Path) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for rec in records(root):
        groups.setdefault(rec["stage"], []).append(rec)
    return groups
