"""Live progress of a running stage: the cell (i/N, its section and first line) and the time,
one updating line on a terminal, plain lines otherwise."""

from __future__ import annotations

import io
import re

import nbformat
import pytest
from _project import nbtrail

from nbtrail.commands.progress import ProgressPrinter
from nbtrail.pipeline import progress


def _notebook(path, *, delay: float = 0.0) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(f"delay = {delay}")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A slow stage\n\nIt waits."),
        params,
        nbformat.v4.new_markdown_cell("Some words, no heading.\n\n## Waiting for the slow cell"),
        nbformat.v4.new_code_cell("\n# wait\nimport time\ntime.sleep(delay)"),
        nbformat.v4.new_code_cell(""),  # empty: papermill does not execute it
        nbformat.v4.new_code_cell("print('done')"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_cell_labels_name_the_section_and_the_first_line(tmp_path):
    _notebook(tmp_path / "s.ipynb")
    assert progress.cell_labels(tmp_path / "s.ipynb", injected=True) == [
        progress.PARAMETERS_LABEL,
        progress.INJECTED_LABEL,
        "Waiting for the slow cell: # wait",
        "Waiting for the slow cell: print('done')",
    ]
    assert len(progress.cell_labels(tmp_path / "s.ipynb", injected=False)) == 3


def test_tracker_counts_cells_and_ends_with_finished(tmp_path, capsys):
    _notebook(tmp_path / "s.ipynb")
    seen: list[progress.Progress] = []
    clock = Clock()
    t = progress.CellTracker(
        "slow", "slow-1", tmp_path / "s.ipynb", seen.append, injected=True, clock=clock
    )
    for tags in ([], ["injected-parameters"], [], []):
        clock.now += 2
        t.on_cell_execute(cell={"metadata": {"tags": tags}, "source": "x"}, cell_index=0)
    t.finish()
    assert [(p.cell, p.cells) for p in seen] == [(1, 4), (2, 4), (3, 4), (4, 4), (4, 4)]
    assert seen[1].label == progress.INJECTED_LABEL and seen[-1].finished
    assert seen[3].line(clock.now + 1) == (
        "slow [4/4] 9.0s  Waiting for the slow cell: print('done')"
    )
    calls: list[progress.Progress] = []

    def failing(p: progress.Progress) -> None:
        calls.append(p)
        raise OSError("terminal gone")

    broken = progress.CellTracker("s", "r", tmp_path / "s.ipynb", failing, injected=False)
    broken.on_cell_execute(cell=None)  # a broken display never fails the stage
    broken.on_cell_execute(cell=None)
    broken.finish()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stage 's'" in err and "OSError: terminal gone" in err
    assert len(calls) == 1  # said once, then no further events to a display that broke


def _event(cell: int, *, started: float = 100.0, at: float = 100.0, done: bool = False):
    return progress.Progress("train", "train-1", cell, 9, f"cell {cell}", started, at, done)


def test_plain_lines_one_per_cell_and_a_heartbeat_while_a_cell_runs_long():
    out, err, clock = io.StringIO(), io.StringIO(), Clock()
    printer = ProgressPrinter(out, err, live=False, heartbeat=30, clock=clock)
    printer.on_progress(_event(1))
    clock.now = 112.5
    printer.on_progress(_event(2, at=112.5))
    printer.message("train: running notebooks/02_train.ipynb as train-1")
    clock.now = 140.0
    printer.tick()  # 27.5 s into the cell: not yet
    clock.now = 143.0
    printer.tick()
    printer.tick()  # once per period
    printer.on_progress(_event(2, at=112.5, done=True))
    clock.now = 200.0
    printer.tick()  # the stage ended: nothing more
    assert out.getvalue().splitlines() == [
        "nbtrail: train [1/9] 0.0s  cell 1",
        "nbtrail: train [2/9] 12.5s  cell 2",
        "nbtrail: train [2/9] 43.0s  cell 2  (this cell: 30s so far)",
    ]
    assert err.getvalue() == "nbtrail: train: running notebooks/02_train.ipynb as train-1\n"
    assert "\r" not in out.getvalue()


def test_live_line_is_rewritten_in_place_and_cleared_for_messages():
    out, err, clock = io.StringIO(), io.StringIO(), Clock()
    printer = ProgressPrinter(out, err, live=True, width=60, clock=clock)
    printer.on_progress(_event(3))
    other = progress.Progress("monitor", "m-1", 1, 12, "a very long label " * 4, 100.0, 100.0)
    printer.on_progress(other)
    assert printer.line().startswith("train [3/9] 0.0s  cell 3 | monitor [1/12]")
    assert len(printer.line()) < 60 and printer.line().endswith("...")
    printer.message("monitor: done")
    printer.on_progress(_event(3, done=True))
    printer.on_progress(progress.Progress(**{**other.__dict__, "finished": True}))
    text = out.getvalue()
    assert text.startswith("\r\x1b[Ktrain [3/9] 0.0s  cell 3") and text.endswith("\r\x1b[K")
    assert err.getvalue() == "nbtrail: monitor: done\n"


@pytest.mark.slow
def test_run_prints_each_cell_of_a_slow_stage_on_a_plain_stdout(tmp_path):
    root = tmp_path / "proj"
    for d in ("params", "notebooks", "workspace"):
        (root / d).mkdir(parents=True)
    _notebook(root / "notebooks" / "slow.ipynb", delay=2.0)
    (root / "params" / "pipeline.yaml").write_text(
        "version: 1\nstages:\n  slow:\n    notebook: notebooks/slow.ipynb\n"
    )
    proc = nbtrail(root, "run")  # stdout is a pipe, not a terminal
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("nbtrail: slow [")]
    assert [ln.split("]")[0] for ln in lines] == [f"nbtrail: slow [{i}/4" for i in (1, 2, 3, 4)]
    assert lines[1].endswith(progress.INJECTED_LABEL)
    assert lines[2].endswith("Waiting for the slow cell: # wait")
    elapsed = [float(re.search(r"\] ([0-9.]+)s", ln).group(1)) for ln in lines]
    assert elapsed == sorted(elapsed) and elapsed[3] - elapsed[2] >= 1.9  # the 2 s cell (to 0.1 s)
    assert "\r" not in proc.stdout and "\x1b" not in proc.stdout
    assert "slow: running notebooks/slow.ipynb" in proc.stderr
