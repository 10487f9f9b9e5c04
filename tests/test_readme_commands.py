"""Every nbtrail and papermill command the README shows runs and exits as it says (``# exits
N``), in README order: those of "Your own data" in a fresh copy of the project, the rest in
a copy of the project after its default run (the shared ``default_run``), which is where a
reader stands after ``make run``."""

from __future__ import annotations

import pytest
from _project import make_project
from _readme import commands, run_line

pytestmark = pytest.mark.slow
OWN_DATA = "Your own data"


def test_the_readme_shows_the_commands():
    lines = commands()
    assert len(lines) >= 15, "the README shows the nbtrail commands"
    sections = [s for s, _ in lines]
    own = sections.count(OWN_DATA)
    assert own >= 2 and sections[:own] == [OWN_DATA] * own  # first: a reader starts there


def test_the_own_data_commands_run_on_a_fresh_project(tmp_path):
    root = make_project(tmp_path / "project")
    own = [line for section, line in commands() if section == OWN_DATA]
    assert any("data.source=" in line for line in own)
    for line in own:
        run_line(line, root, tmp_path)


def test_the_other_commands_run_after_the_default_run(tmp_path, default_run):
    root, _ = default_run.copy(tmp_path / "project")
    for line in [line for section, line in commands() if section != OWN_DATA]:
        run_line(line, root, tmp_path)
