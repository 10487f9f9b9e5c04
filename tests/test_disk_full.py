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

import nbformat
import pytest
from _project import nbtrail

from nbtrail.core.errors import DiskFull

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
    verify = nbtrail(ws, "data", "verify")
    assert verify.returncode == 0, verify.stderr
    listing = nbtrail(ws, "data", "list", "--json")
    assert json.loads(listing.stdout) == []

    remount(data, "4m")
    again = nbtrail(ws, "data", "add", str(src), "-n", "big")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "added big@1: 150000 rows" in again.stdout
    verify = nbtrail(ws, "data", "verify")
    assert verify.returncode == 0 and "1 object(s) verified" in verify.stdout
    assert [p.name for p in (data / "objects" / "tmp").iterdir()] == []


def _filling_stage(root: Path) -> Path:
    """A one-stage pipeline whose notebook writes ``size_kb`` KB into its run folder."""
    for d in ("params", "notebooks", "workspace"):
        (root / d).mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("size_kb = 4")
    params.metadata["tags"] = ["parameters"]
    body = (
        "import os, pathlib\n"
        "out = pathlib.Path(os.environ['NBTRAIL_RUN_DIR']) / 'big.bin'\n"
        "out.write_bytes(os.urandom(size_kb * 1024))\n"
    )
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, root / "notebooks" / "fill.ipynb")
    (root / "params" / "pipeline.yaml").write_text(
        "version: 1\nstages:\n  fill:\n    notebook: notebooks/fill.ipynb\n"
    )
    return root


def _runs(root: Path) -> list[tuple[str, str]]:
    out = nbtrail(root, "runs", "--json", "--limit", "50")
    assert out.returncode == 0, out.stderr
    return sorted((r["run_id"], r["status"]) for r in json.loads(out.stdout))


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory, small_fs: Mount) -> dict:
    """A run whose stage overfills workspace/runs (a 1 MB tmpfs), then the same run again
    once the tmpfs is remounted bigger: the two CLI results and what was left in between."""
    root = _filling_stage(tmp_path_factory.mktemp("diskfull") / "p")
    runs = small_fs(root / "workspace" / "runs", "1m")
    failed = nbtrail(root, "run", "--progress", "off", "-p", "fill.size_kb=2048")
    folders = {p.name: p for p in runs.iterdir()}
    on_disk = {
        name: json.loads((p / "record.json").read_text())["status"]
        for name, p in folders.items()
        if (p / "record.json").is_file()
    }
    listed = _runs(root)
    rebuilt = nbtrail(root, "index", "rebuild")
    after_rebuild = _runs(root)
    con = sqlite3.connect(root / "workspace" / "index.sqlite")
    integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    con.close()
    unreadable = [p for p in runs.rglob("*.ipynb") if p.name != "source.ipynb" and not _is_json(p)]
    remount(runs, "8m")
    again = nbtrail(root, "run", "--progress", "off", "-p", "fill.size_kb=2048")
    return {
        "root": root,
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
def test_a_run_that_fills_the_disk_is_never_completed(full_run: dict) -> None:
    failed = full_run["failed"]
    assert failed.returncode == 14, failed.stderr[-3000:]
    line = error_line(failed)
    assert "disk full" in line and "stage 'fill'" in line and "workspace/runs/fill-" in line
    (run_id,) = full_run["folders"]
    assert run_id in line
    # the record never says completed: failed if there was room to say so, else still
    # `running` on disk, which reads `interrupted` once the runner has gone
    assert full_run["on_disk"][run_id] in ("failed", "running")
    assert full_run["listed"] == [
        (run_id, "interrupted" if full_run["on_disk"][run_id] == "running" else "failed")
    ]
    # the index agrees with the run folders: a rebuild from them gives the same answers
    assert full_run["rebuilt"].returncode == 0, full_run["rebuilt"].stderr
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
