"""``nbtrail run``'s live progress: the cell each running stage executes, and the time.

On a terminal it is one line, rewritten in place (every running stage side by side, the
elapsed time ticking); when stdout is not a terminal (CI logs, a pipe) it is a plain line per
cell started, and a "still running" line while a cell takes long. Event lines (``on_event``)
go to stderr, after the live line is cleared, so the two never tangle.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from nbtrail.pipeline.progress import Progress

TICK = 0.5  # seconds between redraws of the live line
HEARTBEAT = 30.0  # plain mode: a line when a cell has run this long (and every such period)


class ProgressPrinter:
    """Prints :class:`~nbtrail.pipeline.progress.Progress` events to ``out`` (thread-safe).

    ``live`` rewrites one line (a terminal); otherwise plain lines are printed. Use it as a
    context manager: the ticker thread runs inside it and the live line is cleared at exit.
    """

    def __init__(
        self,
        out: TextIO | None = None,
        err: TextIO | None = None,
        *,
        live: bool | None = None,
        width: int | None = None,
        heartbeat: float = HEARTBEAT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.live = self.out.isatty() if live is None else live
        self.width = width
        self.heartbeat = heartbeat
        self.clock = clock
        self._running: dict[str, Progress] = {}
        self._beats: dict[str, float] = {}  # stage -> cell time of its last plain line
        self._shown = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> ProgressPrinter:
        self._stop.clear()
        self._ticker = threading.Thread(target=self._tick, name="nbtrail-progress", daemon=True)
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            self._clear()

    def on_progress(self, p: Progress) -> None:
        """The runner's ``on_progress``: remember the stage's cell, print or redraw."""
        with self._lock:
            if p.finished:
                self._running.pop(p.stage, None)
                self._beats.pop(p.stage, None)
            else:
                self._running[p.stage] = p
            if self.live:
                self._draw()
            elif not p.finished and p.cell:
                self._beats[p.stage] = 0.0
                self._plain(p.line(self.clock()))

    def message(self, text: str) -> None:
        """An event line (``nbtrail: ...``) on stderr; the live line is redrawn after it."""
        with self._lock:
            self._clear()
            print(f"nbtrail: {text}", file=self.err, flush=True)
            if self.live:
                self._draw()

    def line(self) -> str:
        """The live line: every running stage's position, cut to the terminal's width."""
        now = self.clock()
        text = " | ".join(p.line(now) for p in self._running.values())
        width = self.width or shutil.get_terminal_size((100, 24)).columns
        return text if len(text) < width else text[: max(width - 4, 0)] + "..."

    def tick(self) -> None:
        """Redraw the live line (elapsed times), or print the plain heartbeat lines due."""
        with self._lock:
            if self.live:
                if self._running:
                    self._draw()
                return
            now = self.clock()
            for stage, p in self._running.items():
                ran = p.cell_elapsed(now)
                if p.cell and ran - self._beats.get(stage, 0.0) >= self.heartbeat:
                    self._beats[stage] = ran
                    self._plain(f"{p.line(now)}  (this cell: {ran:.0f}s so far)")

    def _tick(self) -> None:
        while not self._stop.wait(TICK):
            self.tick()

    def _plain(self, text: str) -> None:
        print(f"nbtrail: {text}", file=self.out, flush=True)

    def _draw(self) -> None:
        if not self._running:
            self._clear()
            return
        self.out.write("\r\x1b[K" + self.line())
        self.out.flush()
        self._shown = True

    def _clear(self) -> None:
        if self._shown:
            self.out.write("\r\x1b[K")
            self.out.flush()
            self._shown = False
