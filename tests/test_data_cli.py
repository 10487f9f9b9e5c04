"""`nbtrail data ...`: argument wiring, output and exit codes (the library is tested apart)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from nbtrail.cli import main
from nbtrail.core.workspace import Workspace
from nbtrail.data.datasets import Datasets


def _run(ws: Workspace, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["-C", str(ws.root), "data", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_add_twice_then_a_changed_csv(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v1 = tmp_path / "batch.csv"
    v1.write_text("a,b\n1,x\n2,y\n")
    time.sleep(0.06)
    code, out, _ = _run(ws, capsys, "add", str(v1), "--name", "batch")
    assert code == 0 and out.startswith("added batch@1: 2 rows x 2 columns")
    code, out, _ = _run(ws, capsys, "add", str(v1), "--name", "batch")
    assert code == 0 and "unchanged: batch@1" in out
    assert len(list(Datasets(ws).store.iter_digests())) == 1

    v2 = tmp_path / "batch2.csv"
    v2.write_text("a,c\n1.5,1\n2,2\n3,3\n")
    code, out, _ = _run(ws, capsys, "add", str(v2), "--name", "batch")
    assert code == 0 and "added batch@2" in out
    assert "schema change from batch@1: added column 'c' (int64)" in out
    assert "removed column 'b' (string)" in out

    code, out, _ = _run(ws, capsys, "list")
    assert code == 0 and "batch" in out and " 2 " in out
    code, out, _ = _run(ws, capsys, "show", "batch")
    assert code == 0 and out.startswith("batch@2") and "schema changes from batch@1:" in out
    assert "column 'a' changed type: int64 -> double" in out
    code, out, _ = _run(ws, capsys, "show", "batch@1")
    assert code == 0 and "parent   (none)" in out

    code, out, _ = _run(ws, capsys, "diff", "batch@1", "batch@2")
    assert code == 0
    assert "rows: 2 -> 3 (+1)" in out and "added column 'c'" in out and "removed column 'b'" in out
    assert "columns with changed summaries: 1 of 1 shared" in out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("a "))
    assert "1.5" in line and "2.167" in line


def test_list_when_empty_and_json(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(ws, capsys, "list")
    assert code == 0 and "no datasets yet" in out
    (tmp_path / "d.csv").write_text("a\n1\n")
    _run(ws, capsys, "add", str(tmp_path / "d.csv"), "--name", "d")
    code, out, _ = _run(ws, capsys, "list", "--json")
    assert code == 0 and '"name": "d"' in out


def test_verify_names_the_corrupted_object_and_its_versions(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    _run(ws, capsys, "add", str(tmp_path / "d.csv"), "--name", "d")
    _run(ws, capsys, "add", str(tmp_path / "d.csv"), "--name", "copy")
    code, out, _ = _run(ws, capsys, "verify")
    assert code == 0 and "ok: 1 object(s) verified" in out

    dv = Datasets(ws).get("d@1")
    obj = Datasets(ws).store.path(dv.digest)
    obj.chmod(0o644)
    with open(obj, "ab") as fh:
        fh.write(b"3,4\n")
    code, out, err = _run(ws, capsys, "verify")
    assert code == 5
    assert f"CORRUPTED {dv.digest} (used by copy@1, d@1)" in err
    assert "nbtrail: error: 1 corrupted and 0 missing object(s)" in err

    code, _, err = _run(ws, capsys, "show", "d")  # show reads the manifest only
    assert code == 0
    code, _, err = _run(ws, capsys, "checkout", "d@1", str(tmp_path / "out.csv"))
    assert code == 5 and "dataset d@1" in err and dv.digest in err
    assert not (tmp_path / "out.csv").exists()


def test_checkout_links_where_it_is_safe(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    _run(ws, capsys, "add", str(tmp_path / "d.csv"), "--name", "d")
    obj = Datasets(ws).store.path(Datasets(ws).get("d").digest)

    hard = tmp_path / "hard.csv"
    code, out, _ = _run(ws, capsys, "checkout", "d@1", str(hard), "--link", "hardlink")
    assert code == 0 and "[hardlink]" in out
    assert hard.stat().st_ino == obj.stat().st_ino and hard.stat().st_nlink == 2

    auto = tmp_path / "auto.csv"
    code, out, _ = _run(ws, capsys, "checkout", "d", str(auto))
    assert code == 0 and auto.read_text() == "a,b\n1,2\n"
    if os.geteuid() == 0 and "[reflink]" not in out:
        assert "[copy]" in out and auto.stat().st_ino != obj.stat().st_ino

    code, _, err = _run(ws, capsys, "checkout", "d@7", str(tmp_path / "x.csv"))
    assert code == 9 and "has no version 7" in err


@pytest.mark.parametrize(
    "args, code, fragment",
    [
        (["add", "{tmp}/missing.csv", "--name", "d"], 4, "no such file"),
        (["add", "{tmp}/ok.csv", "--name", "../escape"], 4, "refused"),
        (["add", "{tmp}/ok.csv", "--name", "x" * 300], 4, "refused"),
        (["add", "{tmp}/empty.csv", "--name", "d"], 4, "is empty"),
        (["show", "nope"], 9, "no dataset named 'nope'"),
        (["show", "d@zero"], 4, "bad dataset version"),
        (["diff", "nope@1", "nope@2"], 9, "no dataset"),
        (["push"], 2, "no remote given"),
    ],
)
def test_bad_input_exit_codes(
    ws: Workspace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    fragment: str,
) -> None:
    (tmp_path / "ok.csv").write_text("a\n1\n")
    (tmp_path / "empty.csv").write_text("")
    got, _, err = _run(ws, capsys, *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert got == code
    assert err.startswith("nbtrail: error: ") and fragment in err
    assert err.count("\n") == 1
    assert list(Datasets(ws).store.iter_digests()) == []


def test_push_and_pull_a_folder_remote(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    _run(ws, capsys, "add", str(tmp_path / "d.csv"), "--name", "d")
    share = tmp_path / "share"
    code, out, _ = _run(ws, capsys, "push", str(share))
    assert code == 0 and "1 object(s)" in out and "1 manifest(s)" in out

    # the remote of params/pipeline.yaml is used when no URL is given
    ws.pipeline_file.write_text(ws.pipeline_file.read_text() + f"remote: {share}\n")
    code, out, _ = _run(ws, capsys, "push")
    assert code == 0 and "pushed to" in out and ": 0 object(s)" in out

    shutil.rmtree(ws.data_dir)
    code, out, _ = _run(ws, capsys, "pull", "--name", "d")
    assert code == 0 and "pulled from" in out and ": 1 object(s)" in out
    code, out, _ = _run(ws, capsys, "verify")
    assert code == 0 and "ok: 1 object(s)" in out
