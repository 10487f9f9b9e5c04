"""Disk full, on a small tmpfs the test mounts: while adding data, while writing a run's
outputs, while publishing. Each time: one line and exit 14 (DiskFull), nothing half-written
left looking whole, the store / index still verify, and the next attempt succeeds once there
is room again (the tmpfs remounted bigger)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _project import nbtrail, one_stage_project

from nbtrail.core.errors import DiskFull
from nbtrail.core.workspace import Workspace
from nbtrail.data.datasets import Datasets
from nbtrail.runs import index

Mount = Callable[[Path, str], Path]


@pytest.fixture(scope="module")
def small_fs() -> Iterator[Mount]:
    """``mount(dir, size)``: a size-limited tmpfs on ``dir``; every one is unmounted after."""
    mounted: list[Path] = []

    def mount(where: Path, size: str) -> Path:
        where.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {out.stderr.strip()}")
        mounted.append(where)
        return where

    try:
        yield mount
    finally:
        for where in reversed(mounted):
            subprocess.run(["umount", "-l", str(where)], check=False)


def remount(where: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(where)], check=True)


def error_line(proc: subprocess.CompletedProcess) -> str:
    """The CLI's one error line (progress lines also go to stderr); asserts there is one."""
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("nbtrail: error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return errors[0]


def _workspace(root: Path) -> Path:
    (root / "params").mkdir(parents=True)
    (root / "workspace").mkdir()
    (root / "params" / "pipeline.yaml").write_text("version: 1\nstages: {}\n")
    return root


def _csv(path: Path, rows: int) -> Path:
    path.write_text("a,b\n" + "".join(f"{i},{i * 7}\n" for i in range(rows)))
    return path


def test_data_add_on_a_full_disk_leaves_no_object_and_no_version(
    tmp_path: Path, small_fs: Mount
) -> None:
    ws = _workspace(tmp_path / "ws")
    data = small_fs(ws / "workspace" / "data", "1m")
    src = _csv(tmp_path / "big.csv", 150_000)  # ~1.7 MB, more than the store has
    assert src.stat().st_size > 1024 * 1024

    out = nbtrail(ws, "data", "add", str(src), "-n", "big")
    assert out.returncode == DiskFull.exit_code == 14, out.stderr[-3000:]
    line = error_line(out)
    assert "disk full" in line and "dataset 'big'" in line and str(data) in line
    leftovers = [p for p in data.rglob("*") if p.is_file()]
    assert leftovers == []  # no temp file, no object under its hash, no manifest
    cat = Datasets(Workspace(ws))
    report = cat.verify()  # what `nbtrail data verify` reports
    assert report.checked == 0 and not report.corrupted and not report.missing
    assert cat.names() == []

    remount(data, "4m")
    again = nbtrail(ws, "data", "add", str(src), "-n", "big")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "added big@1: 150,000 rows" in again.stdout
    report = cat.verify()
    assert report.checked == 1 and not report.corrupted and not report.missing
    assert [p.name for p in (data / "objects" / "tmp").iterdir()] == []


def _filling_stage(root: Path) -> Path:
    """A one-stage pipeline whose notebook writes ``size_kb`` KB into its run folder."""
    body = (
        "import os, pathlib\n"
        "out = pathlib.Path(os.environ['NBTRAIL_RUN_DIR']) / 'big.bin'\n"
        "out.write_bytes(os.urandom(size_kb * 1024))\n"
    )
    return one_stage_project(root, "fill", "size_kb = 4", body)


def _runs(root: Path) -> list[tuple[str, str]]:
    """(run id, status) of every run, as `nbtrail runs` lists them (from the index)."""
    return sorted((r.run_id, r.status) for r in index.query_runs(Workspace(root)))


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory, small_fs: Mount) -> dict:
    """workspace/runs on a 1 MB tmpfs: a run while a filler file leaves no room at all (its
    run folder cannot even be made), then, filler deleted, a run whose stage overfills it,
    then the same run once the tmpfs is remounted bigger; the CLI results and what was left."""
    root = _filling_stage(tmp_path_factory.mktemp("diskfull") / "p")
    runs = small_fs(root / "workspace" / "runs", "1m")
    filler = runs / "filler.bin"
    with open(filler, "wb", buffering=0) as fh, pytest.raises(OSError):
        while True:
            fh.write(b"\0" * 65536)
    no_room = nbtrail(root, "run", "--progress", "off")
    left_by_no_room = sorted(p.name for p in runs.iterdir())
    filler.unlink()
    failed = nbtrail(root, "run", "--progress", "off", "-p", "fill.size_kb=2048")
    folders = {p.name: p for p in runs.iterdir()}
    on_disk = {
        name: json.loads((p / "record.json").read_text())["status"]
        for name, p in folders.items()
        if (p / "record.json").is_file()
    }
    listed = _runs(root)
    rebuilt = index.rebuild(Workspace(root))
    after_rebuild = _runs(root)
    con = sqlite3.connect(root / "workspace" / "index.sqlite")
    integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    con.close()
    unreadable = [p for p in runs.rglob("*.ipynb") if p.name != "source.ipynb" and not _is_json(p)]
    remount(runs, "8m")
    again = nbtrail(root, "run", "--progress", "off", "-p", "fill.size_kb=2048")
    return {
        "root": root,
        "no_room": no_room,
        "left_by_no_room": left_by_no_room,
        "failed": failed,
        "on_disk": on_disk,
        "folders": folders,
        "listed": listed,
        "rebuilt": rebuilt,
        "after_rebuild": after_rebuild,
        "integrity": integrity,
        "unreadable": unreadable,
        "again": again,
    }


def _is_json(path: Path) -> bool:
    try:
        json.loads(path.read_bytes())
    except ValueError:
        return False
    return True


@pytest.mark.slow
def test_a_run_with_no_room_for_its_folder_leaves_none(full_run: dict) -> None:
    no_room = full_run["no_room"]
    assert no_room.returncode == 14, no_room.stderr[-3000:]
    line = error_line(no_room)
    assert "disk full" in line and "stage 'fill'" in line
    assert full_run["left_by_no_room"] == ["filler.bin"]  # no half-made run folder


@pytest.mark.slow
def test_a_run_that_fills_the_disk_is_never_completed(full_run: dict) -> None:
    failed = full_run["failed"]
    assert failed.returncode == 14, failed.stderr[-3000:]
    line = error_line(failed)
    assert "disk full" in line and "stage 'fill'" in line and "workspace/runs/fill-" in line
    (run_id,) = full_run["folders"]  # the one run folder, the no-room run's was removed
    assert run_id in line
    # the record never says completed: failed if there was room to say so, else still
    # `running` on disk, which reads `interrupted` once the runner has gone
    assert full_run["on_disk"][run_id] in ("failed", "running")
    assert full_run["listed"] == [
        (run_id, "interrupted" if full_run["on_disk"][run_id] == "running" else "failed")
    ]
    # the index agrees with the run folders: a rebuild from them gives the same answers
    assert full_run["rebuilt"].indexed == 1 and not full_run["rebuilt"].problems
    assert full_run["after_rebuild"] == full_run["listed"]
    assert full_run["integrity"] == "ok"
    assert full_run["unreadable"] == []  # no half-saved executed notebook left behind

    again = full_run["again"]
    assert again.returncode == 0, again.stderr[-3000:]
    statuses = dict(_runs(full_run["root"]))
    assert sorted(statuses.values()) == sorted(["completed", statuses[run_id]])
    assert statuses[run_id] != "completed"


@pytest.mark.slow
def test_publish_on_a_full_disk_leaves_no_site_that_looks_complete(
    full_run: dict, tmp_path: Path, small_fs: Mount
) -> None:
    root = full_run["root"]
    assert full_run["again"].returncode == 0  # a completed run to publish
    out = small_fs(tmp_path / "site", "32k")
    failed = nbtrail(root, "publish", "--out", str(out))
    assert failed.returncode == 14, failed.stderr[-3000:]
    line = error_line(failed)
    assert "disk full" in line and "the site" in line and str(out) in line
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert left == []  # no page, no temp file, no state file: nothing passes for a site

    remount(out, "2m")
    ok = nbtrail(root, "publish", "--out", str(out))
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert (out / "index.html").is_file() and (out / ".nbtrail-site.json").is_file()
    assert not [p for p in out.rglob("*.tmp")]
    assert os.path.getsize(out / "index.html") > 0
