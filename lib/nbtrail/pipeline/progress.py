"""Where a running stage is: the code cell being executed (i of N), its section and first line.

The runner hands nbclient two cell hooks (``on_cell_execute``, ``on_cell_executed``, passed
through papermill's engine keywords) built by :class:`CellTracker`; each hook call becomes a
:class:`Progress` event for whoever listens (``nbtrail run`` prints it, ``widgets.params``
draws a bar). Labels come from the stage's source notebook: the nearest markdown heading above
the cell and the cell's first line. Papermill adds one cell, the injected parameters, after the
``parameters`` cell when the stage has parameters; the tracker counts it too.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nbtrail.pipeline.parameters import read_notebook

INJECTED = "injected-parameters"
INJECTED_LABEL = "parameters injected by the runner"
PARAMETERS_LABEL = "the parameters cell (notebook defaults)"
LABEL_WIDTH = 72
HEADING_WIDTH = 36


@dataclass(frozen=True)
class Progress:
    """One stage's position: code cell ``cell`` of ``cells`` (0 before the first starts)."""

    stage: str
    run_id: str
    cell: int
    cells: int
    label: str
    started: float  # time.monotonic() when the stage's notebook began executing
    cell_started: float
    finished: bool = False  # the notebook ended (every cell ran, or one failed)

    def elapsed(self, now: float | None = None) -> float:
        """Seconds since the stage began."""
        return (time.monotonic() if now is None else now) - self.started

    def cell_elapsed(self, now: float | None = None) -> float:
        """Seconds since the current cell began."""
        return (time.monotonic() if now is None else now) - self.cell_started

    def line(self, now: float | None = None) -> str:
        """``evaluate [7/14] 12.3s  1. Holdout metrics: intervals, values = ...``"""
        return f"{self.stage} [{self.cell}/{self.cells}] {self.elapsed(now):.1f}s  {self.label}"


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _heading(source: str) -> str | None:
    for line in source.splitlines():
        if line.lstrip().startswith("#"):
            return line.strip().lstrip("#").strip() or None
    return None


def _shorten(text: str, width: int = LABEL_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def cell_labels(notebook: Path, *, injected: bool) -> list[str]:
    """One label per code cell papermill will execute, in order: ``heading: first line``.

    ``injected``: papermill inserts the parameters cell after the ``parameters`` cell (at the
    top when there is none), as it does whenever the stage has parameters.
    """
    heading: str | None = None
    labels: list[str] = []
    tagged = False  # the first cell tagged parameters was seen
    for cell in read_notebook(notebook).get("cells", []):
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        if cell.get("cell_type") == "markdown":
            heading = _heading(src) or heading
            continue
        if cell.get("cell_type") != "code" or not src.strip():
            continue
        first = _first_line(src)
        if "parameters" in cell.get("metadata", {}).get("tags", []) and not tagged:
            labels.append(PARAMETERS_LABEL)
            if injected:
                labels.append(INJECTED_LABEL)
            tagged = True
            continue
        labels.append(
            _shorten(f"{_shorten(heading, HEADING_WIDTH)}: {first}" if heading else first)
        )
    if injected and not tagged:
        labels.insert(0, INJECTED_LABEL)
    return labels


class CellTracker:
    """Turns nbclient's cell hooks into :class:`Progress` events for ``emit``.

    ``emit`` is called from the thread executing the stage; it must return quickly. A display
    that raises never fails a stage: its first error is said in one line on stderr and the
    display gets no further events.
    """

    def __init__(
        self,
        stage: str,
        run_id: str,
        notebook: Path,
        emit: Callable[[Progress], None],
        *,
        injected: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.labels = cell_labels(notebook, injected=injected)
        self.emit = emit
        self.clock = clock
        self.broken = False
        now = clock()
        self.state = Progress(stage, run_id, 0, len(self.labels), "starting", now, now)

    def _send(self, state: Progress) -> None:
        self.state = state
        if self.broken:
            return
        try:
            self.emit(state)
        except Exception as exc:  # the display's problem, not the stage's
            self.broken = True
            print(
                f"nbtrail: progress display stopped for stage {state.stage!r}: "
                f"{type(exc).__name__}: {exc} (the stage goes on)",
                file=sys.stderr,
            )

    def on_cell_execute(self, cell: Any = None, cell_index: int | None = None, **_: Any) -> None:
        """nbclient calls this just before each code cell runs."""
        n = self.state.cell + 1
        tags = (cell or {}).get("metadata", {}).get("tags", []) if cell is not None else []
        if INJECTED in tags:
            label = INJECTED_LABEL
        elif n <= len(self.labels):
            label = self.labels[n - 1]
        else:
            label = _shorten(_first_line(str((cell or {}).get("source", ""))))
        total = max(self.state.cells, n)
        self._send(replace(self.state, cell=n, cells=total, label=label, cell_started=self.clock()))

    def finish(self) -> None:
        """The notebook ended: one last event with ``finished`` set."""
        self._send(replace(self.state, finished=True))

    def hooks(self) -> dict[str, Callable[..., None]]:
        """Keyword arguments for ``papermill.execute_notebook`` (nbclient's cell hooks)."""
        return {"on_cell_execute": self.on_cell_execute}
