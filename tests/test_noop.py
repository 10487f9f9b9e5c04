"""The no-op answer of ``nbtrail run`` replayed from its stat-validated cache, and the CLI
registering only the verb asked for. One tiny one-stage project runs one kernel for the
module; every other check is a plain process or a file."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _project import nbtrail

from nbtrail import cli
from nbtrail.pipeline import noop

NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "metadata": {"tags": ["parameters"]},
            "source": "x = 1",
            "outputs": [],
            "execution_count": None,
        },
        {
            "cell_type": "code",
            "metadata": {},
            "source": 'import nbtrail\nrun = nbtrail.start("one", globals())\n'
            'run.log_metrics({"x": x})\nrun.finish()',
            "outputs": [],
            "execution_count": None,
        },
    ],
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}

# Runs the CLI in a fresh process and says whether the planner's YAML parser was imported
# (and, for a replay, whether even argparse was not).
PROBE = (
    "import sys; from nbtrail.cli import main; code = main(sys.argv[1:]); "
    "how = 'PLANNED' if 'yaml' in sys.modules else 'REPLAYED'; "
    "how += ' before argparse' if 'argparse' not in sys.modules else ''; "
    "print(how, file=sys.stderr); sys.exit(code)"
)


RACY = noop.RACY_MARGIN_NS / 1e9 + 0.05  # a file this fresh is not trusted by a save


def _probe(root: Path, *args: str) -> tuple[str, str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NBTRAIL_ROOT", "NBTRAIL_RUN_DIR")}
    p = subprocess.run(
        [sys.executable, "-c", PROBE, "-C", str(root), "run", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert p.returncode == 0, p.stderr
    how = p.stderr.strip().splitlines()[-1]
    return how, p.stdout, "\n".join(p.stderr.strip().splitlines()[:-1])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("noop")
    (root / "params").mkdir()
    (root / "notebooks").mkdir()
    (root / "workspace").mkdir()
    (root / "params" / "pipeline.yaml").write_text(
        "version: 1\nstages:\n  one:\n    notebook: notebooks/one.ipynb\n"
    )
    (root / "notebooks" / "one.ipynb").write_text(json.dumps(NOTEBOOK))
    first = nbtrail(root, "run")
    assert first.returncode == 0, first.stderr
    return root


def test_a_noop_is_replayed_without_planning_and_says_the_same(project: Path) -> None:
    how1, out1, err1 = _probe(project)  # plans, reuses, saves the answer
    assert how1 == "PLANNED"
    assert "nothing changed" in out1
    how2, out2, err2 = _probe(project)
    assert how2 == "REPLAYED before argparse"
    assert (out2, err2) == (out1, err1)
    assert "one: unchanged, reusing run one-" in err2
    how3, _, _ = _probe(project, "-p", "one.x=1")  # another invocation: its own answer
    assert how3 == "PLANNED"
    time.sleep(RACY)
    how4, out4, _ = _probe(project, "-p", "one.x=1")  # replayed after parsing its arguments
    assert how4 == "REPLAYED" and out4 == out1


def test_a_touched_input_is_planned_again(project: Path) -> None:
    _probe(project)
    assert _probe(project)[0].startswith("REPLAYED")
    pipeline = project / "params" / "pipeline.yaml"
    pipeline.write_text(pipeline.read_text() + "# a comment\n")
    how, out, _ = _probe(project)
    assert how == "PLANNED" and "nothing changed" in out
    new = project / "lib" / "helper.py"  # a new local module changes the code tree hash
    new.parent.mkdir(exist_ok=True)
    time.sleep(RACY)
    try:
        _probe(project)
        assert _probe(project)[0].startswith("REPLAYED")
        new.write_text("X = 1\n")
        how, out, _ = _probe(project)
        assert how == "PLANNED" and "ran" in out  # the stage executed again: the hash changed
    finally:
        new.unlink()


def _saved(tmp_path: Path, paths: list[str]) -> tuple[str, str]:
    ws_dir = str(tmp_path / "workspace")
    started = noop.clock_ns() + 10**9  # as if the run started after these files were written
    assert noop.save(ws_dir, "k", started_ns=started, paths=paths, events=["e"], summary="s")
    assert noop.replay(ws_dir, "k") == {"events": ["e"], "summary": "s"}
    return ws_dir, "k"


def test_replay_notices_content_folders_and_files_that_appear(tmp_path: Path) -> None:
    f = tmp_path / "params.yaml"
    f.write_text("a: 1\n")
    st = f.stat()
    folder = tmp_path / "lib"
    folder.mkdir()
    missing = tmp_path / "later.csv"
    ws_dir, key = _saved(tmp_path, [str(f), *noop.walk(str(folder)), str(missing)])
    f.write_text("a: 2\n")  # same size; mtime put back: the ctime still moves
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert noop.replay(ws_dir, key) is None

    ws_dir, key = _saved(tmp_path, [*noop.walk(str(folder))])
    (folder / "new.py").write_text("")
    assert noop.replay(ws_dir, key) is None

    ws_dir, key = _saved(tmp_path, [str(missing)])
    missing.write_text("x")
    assert noop.replay(ws_dir, key) is None


def test_a_file_written_during_the_run_is_not_trusted(tmp_path: Path) -> None:
    started = noop.clock_ns()
    time.sleep(0.01)
    f = tmp_path / "raw.csv"
    f.write_text("x\n")
    ok = noop.save(str(tmp_path), "k", started_ns=started, paths=[str(f)], events=[], summary="")
    assert not ok and noop.replay(str(tmp_path), "k") is None


def test_the_cli_imports_only_the_verb_asked_for() -> None:
    for module in cli.COMMANDS:  # the table of verbs agrees with what each module registers
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"nbtrail.commands.{module}").register(sub)
        for verb in sub.choices:
            assert cli._command_named([verb]) == module, verb
    assert cli._command_named(["-C", "runs", "run", "--stage", "x"]) == "run"
    assert cli._command_named(["--root=/x", "-v", "lineage", "r1"]) == "runs"
    assert cli._command_named(["--help"]) is None
    assert cli._command_named(["bogus"]) is None
    probe = (
        "import sys; from nbtrail import cli; cli.build_parser(cli._command_named(sys.argv[1:]));"
    )
    probe += "print(sorted(m for m in sys.modules if m.startswith('nbtrail.commands.')))"
    out = subprocess.run(
        [sys.executable, "-c", probe, "lineage", "x"], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['nbtrail.commands.options', 'nbtrail.commands.runs']"
