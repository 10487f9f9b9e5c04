"""The layering contract (``[tool.importlinter]`` in pyproject.toml) holds, and can fail.

The wrong import is written into a *copy* of the package in a temporary folder, never into the
repository; import-linter then checks that copy with the repository's own contracts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root / "lib")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _copy_package(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(
        REPO / "lib" / "nbtrail",
        root / "lib" / "nbtrail",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_layers_hold_in_the_repository(tmp_path):
    proc = _lint(_copy_package(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_a_data_module_importing_the_cli_breaks_the_contract(tmp_path):
    root = _copy_package(tmp_path)
    (root / "lib" / "nbtrail" / "data" / "_wrong.py").write_text("from nbtrail import cli\n")
    proc = _lint(root)
    assert proc.returncode != 0
    assert "nbtrail.data._wrong -> nbtrail.cli" in proc.stdout


def test_runs_importing_evidently_breaks_the_forbidden_contract(tmp_path):
    root = _copy_package(tmp_path)
    (root / "lib" / "nbtrail" / "runs" / "_wrong.py").write_text("import evidently\n")
    proc = _lint(root)
    assert proc.returncode != 0
    assert "nbtrail.runs._wrong -> evidently" in proc.stdout


def test_the_registry_importing_export_breaks_the_forbidden_contract(tmp_path):
    root = _copy_package(tmp_path)
    (root / "lib" / "nbtrail" / "practices" / "registry" / "_wrong.py").write_text(
        "from nbtrail.practices.export import bundle_dir\n"
    )
    proc = _lint(root)
    assert proc.returncode != 0
    assert "nbtrail.practices.registry._wrong -> nbtrail.practices.export" in proc.stdout
