"""Load: 8 ``nbtrail run --force`` at once, with ``data add`` and ``index rebuild`` in loops
beside them. Every run is recorded, the index agrees with the run folders, SQLite's integrity
check passes. A one-stage project whose notebook does almost nothing: the kernels are real.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from _project import nbtrail, one_stage_project

from nbtrail.core.workspace import Workspace
from nbtrail.runs import index

pytestmark = pytest.mark.slow

RUNS = 8


def _project(root: Path) -> Path:
    return one_stage_project(root, "tiny", "n = 3", "total = sum(range(n))")


def _cli(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "nbtrail", "-C", str(root), *args]


def _loop(argv_of, stop: threading.Event, failures: list[str], counter: list[int]) -> None:
    i = 0
    while not stop.is_set():
        p = subprocess.run(argv_of(i), capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            failures.append(f"{argv_of(i)[5:]}: exit {p.returncode}: {p.stderr[-500:]}")
        counter[0] += 1
        i += 1
        stop.wait(0.2)  # leave the two cores mostly to the runs


def test_eight_forced_runs_with_data_adds_and_rebuilds_beside_them(tmp_path) -> None:
    root = _project(tmp_path / "load")
    ws = Workspace(root)
    stop = threading.Event()
    failures: list[str] = []
    adds, rebuilds = [0], [0]

    def add(i: int) -> list[str]:
        f = root / "data" / f"batch{i}.csv"
        f.write_text("x,y\n" + "".join(f"{j},{j * i}\n" for j in range(50)))
        return _cli(root, "data", "add", str(f), "--name", "batch")

    loops = [
        threading.Thread(target=_loop, args=(add, stop, failures, adds)),
        threading.Thread(
            target=_loop, args=(lambda i: _cli(root, "index", "rebuild"), stop, failures, rebuilds)
        ),
    ]
    for t in loops:
        t.start()
    try:
        runs = [
            subprocess.Popen(
                _cli(root, "run", "--force"),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(RUNS)
        ]
        results = [(p.wait(timeout=300), *p.communicate()) for p in runs]
    finally:
        stop.set()
        for t in loops:
            t.join(timeout=300)
    failed = [err.strip().splitlines()[-1:] for code, _, err in results if code != 0]
    assert not failed, "\n".join(line for lines in failed for line in lines)  # whole lines
    assert not failures, failures
    assert adds[0] >= 1 and rebuilds[0] >= 1

    # every run recorded, completed, in its folder and in the index, with the same status
    folders = {}
    for f in ws.runs_dir.glob("*/record.json"):
        rec = json.loads(f.read_text())
        folders[rec["run_id"]] = rec["status"]
    assert len(folders) == RUNS and set(folders.values()) == {"completed"}
    indexed = {r.run_id: r.status for r in index.query_runs(ws, limit=None)}
    assert indexed == folders
    assert index.problems(ws) == []
    con = sqlite3.connect(ws.index_path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = dict(con.execute("SELECT run_id, status FROM runs").fetchall())
    finally:
        con.close()
    assert stored == folders  # as stored, not only as read back
    listed = nbtrail(root, "data", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(d["name"], d["version"]) for d in json.loads(listed.stdout)] == [("batch", adds[0])]
