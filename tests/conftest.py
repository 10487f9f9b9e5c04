"""Shared fixtures: every test builds its own workspace under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbtrail.core.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]

MINIMAL_PIPELINE = """\
version: 1
stages: {}
"""


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """An empty workspace (a folder with params/pipeline.yaml) in a temporary folder."""
    root = tmp_path / "project"
    (root / "params").mkdir(parents=True)
    (root / "params" / "pipeline.yaml").write_text(MINIMAL_PIPELINE)
    (root / "workspace").mkdir()
    return Workspace(root)
