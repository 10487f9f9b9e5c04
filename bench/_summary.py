"""The ``--summary PATH`` protocol every benchmark script follows, for ``bench/make_bench.py``.

A script makes a :class:`Summary` when it starts (the 1-minute load average and the clock are
taken then), adds one row per figure, and writes it at the end::

    {"rows": [{"area", "target", "measured", "verdict", "command"}], "load": [start, end],
     "seconds": wall}

``verdict`` is "met", "not met", "no target" or a short phrase ("peer not installed").
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path


def command_line() -> str:
    """How this script was invoked, as a person would type it from the repository root."""
    args = [Path(sys.argv[0]).as_posix(), *sys.argv[1:]]
    out: list[str] = []
    skip = False
    for a in args:  # the --summary option is make_bench's plumbing, not part of the figure
        if skip:
            skip = False
            continue
        if a == "--summary":
            skip = True
            continue
        if a.startswith("--summary="):
            continue
        out.append(a)
    if out and "bench/" in out[0]:
        out[0] = "bench/" + out[0].split("bench/", 1)[1]
    return ".venv/bin/python " + shlex.join(out)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def verdict(ok: bool | None) -> str:
    return "no target" if ok is None else ("met" if ok else "not met")


class Summary:
    """Rows of one benchmark run; :meth:`write` is a no-op without a path."""

    def __init__(self, path: Path | str | None) -> None:
        """Also makes SIGTERM (make_bench's time budget) raise SystemExit, so that the
        script's ``finally`` blocks still stop its servers and remove its temp folders."""
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        self.path = Path(path) if path else None
        self.rows: list[dict[str, str]] = []
        self.load_start = os.getloadavg()[0]
        self.t0 = time.perf_counter()
        self.command = command_line()

    def add(
        self, area: str, target: str, measured: str, verdict: str, command: str | None = None
    ) -> None:
        self.rows.append(
            {
                "area": area,
                "target": target,
                "measured": measured,
                "verdict": verdict,
                "command": command or self.command,
            }
        )

    def write(self) -> None:
        if self.path is None:
            return
        data = {
            "rows": self.rows,
            "load": [round(self.load_start, 2), round(os.getloadavg()[0], 2)],
            "seconds": round(time.perf_counter() - self.t0, 1),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(data, indent=2) + "\n")
