"""Every notebook: clean in git, a parameters cell first, and runs top to bottom with its
defaults under nbval (lax) in a temporary project; the stage notebooks are recorded as
interactive runs, the home notebook (00_workspace, first, on the still empty workspace) none."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from _project import REPO, by_stage, make_project

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
PIPELINE = yaml.safe_load((REPO / "params" / "pipeline.yaml").read_text())
STAGE_NOTEBOOKS = {REPO / s["notebook"] for s in PIPELINE["stages"].values()}
HOME = REPO / "notebooks" / "00_workspace.ipynb"  # explores the workspace; not a stage


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean_and_starts_with_parameters(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code), "strip outputs"
    assert "parameters" in code[0]["metadata"].get("tags", []), "first code cell: parameters"
    assert nb["cells"][0]["cell_type"] == "markdown", (
        "open with a markdown cell saying what it does"
    )
    src = "".join("".join(c["source"]) for c in code)
    if path in STAGE_NOTEBOOKS:
        assert "nbtrail.start(" in src and "run.finish()" in src
    else:
        assert path == HOME, "a notebook that is not a stage: add it to params/pipeline.yaml"
        assert "nbtrail.start(" not in src, "the home notebook records no run"
        assert all(len("".join(c["source"]).splitlines()) <= 15 for c in code), "a long cell"


def test_every_stage_notebook_and_the_home_notebook_are_here():
    assert STAGE_NOTEBOOKS | {HOME} == set(NOTEBOOKS)
    assert HOME not in STAGE_NOTEBOOKS


@pytest.mark.slow
def test_every_notebook_runs_top_to_bottom_with_defaults_under_nbval(tmp_path):
    root = make_project(tmp_path / "project")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBTRAIL_")}
    env["NBTRAIL_ROOT"] = str(root)
    nbs = sorted(str(p) for p in (root / "notebooks").glob("*.ipynb"))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(root),
            "-W",
            "ignore",
            *nbs,
        ],
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-4000:]
    groups = by_stage(root)  # the home notebook ran first, on an empty workspace, and recorded none
    assert sorted(groups) == sorted(["data", "train", "evaluate", "export", "monitor"])
    for recs in groups.values():
        assert [r["origin"] for r in recs] == ["interactive"]
        assert [r["status"] for r in recs] == ["completed"]
