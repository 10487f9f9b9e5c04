"""Hostile names, run ids and parameter values are refused before any kernel starts: one line,
the error's own exit code, no run folder, and no kernel launched (counted by a ``python3``
kernelspec on ``JUPYTER_PATH`` that logs each start, as bench/bench_pipeline.py does).

The CLI is called in this process (``cli.main``) except for one whole-process call, so the
refusals cost no interpreter start; a tiny one-stage project proves that the counter does see
the kernels the runner starts."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from _project import make_project, nbtrail

from nbtrail import cli

REPO = Path(__file__).resolve().parents[1]
LONG = "x" * 5000


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``python3`` kernelspec that logs each start; returns the log's path."""
    top = tmp_path_factory.mktemp("kernels")
    native = Path(sys.prefix) / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"
    spec = json.loads(native.read_text())
    log = top / "kernel-starts.log"
    spec["argv"] = ["/bin/sh", "-c", f'echo start >> {log}; exec "$@"', "counted", *spec["argv"]]
    folder = top / "jupyter" / "kernels" / "python3"
    folder.mkdir(parents=True)
    (folder / "kernel.json").write_text(json.dumps(spec))
    return log


@pytest.fixture
def env(counted: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JUPYTER_PATH", str(counted.parent / "jupyter"))
    monkeypatch.delenv("NBTRAIL_RUN_DIR", raising=False)
    monkeypatch.delenv("NBTRAIL_ROOT", raising=False)
    return counted


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real pipeline (notebooks and params), never run: every case here is refused."""
    root = make_project(tmp_path_factory.mktemp("upfront") / "p")
    # a NUL, which no command line can carry; a final newline, which `-p` (YAML) would strip
    (root / "nul.yaml").write_text('data:\n  dataset_name: "a\\0b"\n')
    (root / "newline.yaml").write_text('data:\n  dataset_name: "ok\\n"\n')
    return root


def _starts(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.is_file() else 0


def _refused(root: Path, log: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the CLI in-process; return its one error line. Asserts nothing ran or was written."""
    before = _starts(log)
    began = time.monotonic()
    code = cli.main(["-C", str(root), *argv])
    seconds = time.monotonic() - began
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nbtrail: error: "), err
    assert "\x1b" not in err and "\x00" not in err and len(lines[0]) < 400
    assert _starts(log) == before, "a kernel started"
    runs = root / "workspace" / "runs"
    assert not runs.exists() or not any(runs.iterdir()), sorted(runs.iterdir())
    assert seconds < 5, seconds  # well under a kernel start plus a stage (not a timing target)
    return f"{code} {lines[0]}"


HOSTILE_RUNS = [
    (["-p", "data.dataset_name=../x"], 4, "parameter 'dataset_name': dataset name '../x' refused"),
    (["-p", "data.dataset_name=a/b"], 4, "dataset name 'a/b' refused"),
    (["-p", "data.dataset_name=-x"], 4, "dataset name '-x' refused"),
    (["-p", "data.dataset_name=\x1b[31mred"], 4, "dataset name '\\x1b[31mred' refused"),
    (["-p", f"data.dataset_name={LONG}"], 4, "(5000 chars) refused"),
    (["--params", "PROJECT/newline.yaml"], 4, "dataset name 'ok\\n' refused"),
    (["--params", "PROJECT/nul.yaml"], 4, "dataset name 'a\\x00b' refused"),
    (["-p", "data.source=../x"], 4, "source '../x' is neither a .csv/.parquet file"),
    (["-p", "data.source=dataset:a/b@1"], 4, "dataset name 'a/b' refused"),
    (["-p", "data.source=shop@0"], 4, "bad dataset version in 'shop@0'"),
    (["-p", "data.source=sklearn:nope"], 3, "unknown scikit-learn dataset 'nope'"),
    (["-p", "monitor.batch=fine, ../x"], 4, "parameter 'batch': dataset name '../x' refused"),
    (["-p", "evaluate.model_name=a/b"], 4, "parameter 'model_name': model name 'a/b' refused"),
    (["-p", "export.model_name=.."], 4, "model name '..' refused"),
    (["-p", "train.max_depth=abc"], 3, "parameter 'max_depth' expects int, got str 'abc'"),
    (["-p", "data.delimiter=2026"], 3, "parameter 'delimiter' expects str, got int 2026"),
    (["-p", "data.dataset_name=2026-01-01"], 3, "expects str, got date"),
    (["-p", "evaluate.slices={1: category}"], 3, "the mapping key 1 is not text (int)"),
    (["-p", "train.C=.inf"], 3, "inf is not a finite number"),
    (["-p", "evaluate.gates=!!binary aGk="], 3, "expects dict, got bytes"),
]


@pytest.mark.parametrize(("argv", "code", "says"), HOSTILE_RUNS, ids=lambda v: repr(v)[:40])
def test_run_refuses_before_any_kernel(project, env, capsys, argv, code, says) -> None:
    argv = [a.replace("PROJECT", str(project)) for a in argv]
    got = _refused(project, env, capsys, "run", *argv)
    assert got.startswith(f"{code} ") and says in got, got


HOSTILE_REFS = ["../x", "a/b", "\x1b[31mred", "\udcff", LONG, "-x", ".hidden", "data~" + "9" * 30]


@pytest.mark.parametrize("ref", HOSTILE_REFS, ids=lambda v: repr(v)[:20])
@pytest.mark.parametrize(
    "verb",
    [["reproduce"], ["show"], ["diff", "data"], ["lineage"], ["publish", "--run"]],
    ids=lambda v: v[0],
)
def test_run_refs_are_not_found_before_any_kernel(project, env, capsys, verb, ref) -> None:
    argv = [*verb[:-1], f"--run={ref}"] if verb[0] == "publish" else [*verb, "--", ref]
    got = _refused(project, env, capsys, *argv)
    assert got.startswith("9 "), got
    assert not (project / "workspace" / "site").exists()


def test_a_whole_process_refusal_is_one_line_and_quick(project, env) -> None:
    began = time.monotonic()
    before = _starts(env)
    proc = nbtrail(project, "run", "-p", "data.dataset_name=../x")
    seconds = time.monotonic() - began
    assert proc.returncode == 4, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "nbtrail: error: stage 'data', parameter 'dataset_name': dataset name '../x' refused "
        "(use 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit, "
        "without '..')"
    ]
    assert _starts(env) == before and seconds < 20, seconds


TINY_PIPELINE = """\
version: 1
stages:
  named:
    notebook: notebooks/named.ipynb
"""


def _notebook(cells: list[tuple[str, list[str]]]) -> dict:
    return {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"tags": tags},
                "source": src,
                "outputs": [],
                "execution_count": None,
            }
            for src, tags in cells
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def test_the_counter_sees_the_runners_kernels(tmp_path, env, capsys) -> None:
    """The control: a valid name runs the stage, and its kernel start is counted (so a zero
    above means no kernel started, not a counter that never counts)."""
    root = tmp_path / "tiny"
    (root / "params").mkdir(parents=True)
    (root / "workspace").mkdir()
    (root / "params" / "pipeline.yaml").write_text(TINY_PIPELINE)
    cells = [('dataset_name: "DatasetName" = None', ["parameters"]), ("print(dataset_name)", [])]
    (root / "notebooks").mkdir()
    (root / "notebooks" / "named.ipynb").write_text(json.dumps(_notebook(cells)))
    before = _starts(env)
    assert cli.main(["-C", str(root), "run", "-p", "named.dataset_name=../x"]) == 4
    assert _starts(env) == before
    capsys.readouterr()
    assert cli.main(["-C", str(root), "run", "-p", "named.dataset_name=fine"]) == 0
    assert _starts(env) == before + 1
