"""Dataset versions: adding, dedupe, schema changes, bad input, integrity, stat cache, kills."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
import pytest

import nbtrail
import nbtrail.data.describe as describe_mod
from nbtrail.core.errors import DataError, IntegrityError, NameRefused, NotFound
from nbtrail.core.workspace import Workspace
from nbtrail.data.datasets import (
    Datasets,
    check_name,
    parse_ref,
    require_same_schema,
    schema_changes,
)
from nbtrail.data.describe import count_csv_records


def _csv(path: Path, text: str, *, settle: bool = False) -> Path:
    path.write_text(text)
    if settle:  # older than the stat cache's racy window, so the cache may trust it
        time.sleep(0.06)
    return path


def _nothing_written(cat: Datasets) -> None:
    assert list(cat.store.iter_digests()) == []
    assert cat.names() == []
    tmp = cat.store.tmp_dir
    assert not tmp.exists() or list(tmp.iterdir()) == []


def test_adding_the_same_csv_twice_makes_one_version_and_one_object(
    ws: Workspace, tmp_path: Path
) -> None:
    cat = Datasets(ws)
    src = _csv(tmp_path / "d.csv", "a,b\n1,x\n2,y\n")
    v1 = cat.add_file(src, "d")
    again = cat.add(src, "d")
    assert not again.created and again.version == v1
    assert v1.ref == "d@1" and v1.rows == 2 and v1.columns == ["a", "b"]
    assert v1.dtypes == {"a": "int64", "b": "string"}
    assert v1.parent is None and v1.format == "csv" and v1.source == str(src.resolve())
    assert list(cat.store.iter_digests()) == [v1.digest]
    assert [v.version for v in cat.versions("d")] == [1]
    # the same bytes under another name share the object
    other = cat.add_file(src, "copy")
    assert other.digest == v1.digest and len(list(cat.store.iter_digests())) == 1


def test_changed_columns_make_a_new_version_with_schema_changes(
    ws: Workspace, tmp_path: Path
) -> None:
    cat = Datasets(ws)
    v1 = cat.add_file(_csv(tmp_path / "d.csv", "a,b,c\n1,x,1\n2,y,2\n"), "d")
    res = cat.add(_csv(tmp_path / "d2.csv", "a,b,d\n1.5,x,q\n2,y,r\n3,z,s\n"), "d")
    v2 = res.version
    assert res.created and v2.version == 2 and v2.parent == 1 and v2.rows == 3
    changes = schema_changes(v1, v2)
    assert changes == [
        "added column 'd' (string)",
        "removed column 'c' (int64)",
        "column 'a' changed type: int64 -> double",
    ]
    assert res.schema_changes == changes
    assert cat.show("d@2") == (v2, changes)
    assert cat.show("d@1") == (v1, [])
    with pytest.raises(DataError) as err:
        require_same_schema(v1, v2)
    msg = str(err.value)
    assert "d@1" in msg and "d@2" in msg and "removed column 'c'" in msg
    require_same_schema(v1, v1)
    assert cat.get("d").version == 2 and cat.get("d@1") == v1


def test_diff_reports_rows_schema_and_column_shifts(ws: Workspace, tmp_path: Path) -> None:
    cat = Datasets(ws)
    cat.add_file(_csv(tmp_path / "1.csv", "x,y,s\n1,10,a\n2,10,b\n3,10,a\n"), "d")
    cat.add_file(_csv(tmp_path / "2.csv", "x,y,t\n11,10,1\n12,10,2\n13,10,3\n14,10,4\n"), "d")
    d = cat.diff("d@1", "d@2")
    assert d.new.rows - d.old.rows == 1
    assert "added column 't' (int64)" in d.schema and "removed column 's' (string)" in d.schema
    by = {c.column: c for c in d.columns}
    assert set(by) == {"x", "y"}
    assert by["x"].changed and by["x"].old["mean"] == 2.0 and by["x"].new["mean"] == 12.5
    assert by["x"].mean_shift_sd == pytest.approx(10.5)
    assert not by["y"].changed
    assert d.to_dict()["rows"] == {"old": 3, "new": 4}


def test_add_frame_is_deterministic_and_round_trips(ws: Workspace) -> None:
    cat = Datasets(ws)
    df = pd.DataFrame({"a": np.arange(50), "b": np.linspace(0, 1, 50), "s": ["u", "v"] * 25})
    v1 = cat.add_frame(df, "frame", run_id="data-1")
    assert cat.add_frame(df.copy(), "frame") == v1
    assert v1.format == "parquet" and v1.run_id == "data-1" and v1.rows == 50
    pd.testing.assert_frame_equal(cat.read_frame("frame@1"), df)
    with pytest.raises(DataError):
        cat.add_frame(df.iloc[:0], "frame")


@pytest.mark.parametrize(
    "content, suffix, fragment",
    [
        (None, ".csv", "no such file"),
        ("", ".csv", "is empty"),
        ("a,b\n", ".csv", "has no rows"),
        ("not parquet at all", ".parquet", "cannot read"),
        ("a,b\n1,2\n", ".xlsx", "unsupported format"),
        ("a,a\n1,2\n", ".csv", "duplicate column"),
    ],
)
def test_bad_input_is_one_clear_error_and_nothing_written(
    ws: Workspace, tmp_path: Path, content: str | None, suffix: str, fragment: str
) -> None:
    cat = Datasets(ws)
    src = tmp_path / f"bad{suffix}"
    if content is not None:
        src.write_text(content)
    with pytest.raises(DataError) as err:
        cat.add_file(src, "d")
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)
    _nothing_written(cat)


def test_a_folder_is_not_a_dataset(ws: Workspace, tmp_path: Path) -> None:
    cat = Datasets(ws)
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DataError, match="not a regular file"):
        cat.add_file(tmp_path / "dir.csv", "d")
    _nothing_written(cat)


@pytest.mark.parametrize(
    "name",
    ["a/b", "..", "../x", "a..b", ".hidden", "a\x00b", "a\nb", "\x1b[31mred", "x" * 101, "", "a b"],
)
def test_hostile_names_are_refused(ws: Workspace, tmp_path: Path, name: str) -> None:
    src = _csv(tmp_path / "d.csv", "a\n1\n")
    with pytest.raises(NameRefused) as err:
        Datasets(ws).add_file(src, name)
    assert "\n" not in str(err.value) and "\x1b" not in str(err.value)
    assert len(str(err.value)) < 300
    _nothing_written(Datasets(ws))
    with pytest.raises(NameRefused):
        parse_ref(f"{name}@1")


def test_reasonable_names_and_refs_are_accepted() -> None:
    for name in ("d", "x" * 100, "batch-2026.11_a"):
        assert check_name(name) == name
    assert parse_ref("d@3") == ("d", 3)
    assert parse_ref("d") == ("d", None)
    for bad in ("d@0", "d@x", "d@-1", "d@"):
        with pytest.raises(DataError):
            parse_ref(bad)


def test_unknown_versions_are_not_found(ws: Workspace, tmp_path: Path) -> None:
    cat = Datasets(ws)
    with pytest.raises(NotFound):
        cat.get("nope")
    cat.add_file(_csv(tmp_path / "d.csv", "a\n1\n"), "d")
    with pytest.raises(NotFound, match="versions: 1"):
        cat.get("d@2")


@pytest.mark.parametrize("damage", ["tamper", "truncate"])
def test_damaged_object_is_never_served(ws: Workspace, tmp_path: Path, damage: str) -> None:
    cat = Datasets(ws)
    v1 = cat.add_file(_csv(tmp_path / "d.csv", "a,b\n1,2\n3,4\n"), "d")
    obj = cat.store.path(v1.digest)
    obj.chmod(0o644)
    obj.write_bytes(b"a,b\n1,2\n3,5\n" if damage == "tamper" else b"a,b\n1")
    for read in (cat.read_frame, cat.path):
        with pytest.raises(IntegrityError) as err:
            read("d@1")
        assert "dataset d@1" in str(err.value) and v1.digest in str(err.value)
    with pytest.raises(IntegrityError):
        cat.checkout("d@1", tmp_path / "out.csv")
    report = cat.verify()
    assert not report.ok and report.corrupted == {v1.digest: ["d@1"]}


def test_verify_reports_missing_and_unreferenced_objects(ws: Workspace, tmp_path: Path) -> None:
    cat = Datasets(ws)
    v1 = cat.add_file(_csv(tmp_path / "d.csv", "a\n1\n"), "d")
    loose = cat.store.put_bytes(b"not a dataset")
    rep = cat.verify()
    assert rep.ok and rep.checked == 2 and rep.unreferenced == [loose]
    cat.store.path(v1.digest).unlink()
    rep = cat.verify()
    assert not rep.ok and rep.missing == {v1.digest: ["d@1"]}


def test_stat_cache_skips_reading_an_unchanged_file(ws: Workspace, tmp_path: Path) -> None:
    cat = Datasets(ws)
    src = _csv(tmp_path / "d.csv", "a,b\n1,2\n3,4\n", settle=True)
    first = cat.add(src, "d")
    assert first.created and not first.cached
    second = cat.add(src, "d")
    assert second.cached and not second.created and second.version == first.version
    # same size, same mtime, different bytes: ctime gives the edit away
    st = src.stat()
    src.write_text("a,b\n1,2\n3,5\n")
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    time.sleep(0.06)
    third = cat.add(src, "d")
    assert third.created and not third.cached and third.version.version == 2
    assert cat.read_frame("d@2")["b"].tolist() == [2, 5]


def test_stat_cache_entry_is_ignored_when_the_object_is_gone(ws: Workspace, tmp_path: Path) -> None:
    cat = Datasets(ws)
    src = _csv(tmp_path / "d.csv", "a\n1\n", settle=True)
    v1 = cat.add_file(src, "d")
    obj = cat.store.path(v1.digest)
    obj.unlink()
    res = cat.add(src, "d")
    assert not res.cached and obj.is_file() and cat.store.verify(v1.digest)


def _tricky_csv(rng: np.random.Generator) -> bytes:
    pieces = [b"1,2\n", b"\n", b"\r\n", b'3,"x\ny"\n', b'4,"q""\n""z"\r\n', b'5,"a"\n', b"6,7\r\n"]
    body = [pieces[i] for i in rng.integers(0, len(pieces), rng.integers(1, 25))]
    if rng.random() < 0.5:
        body[-1] = body[-1].rstrip(b"\r\n")
    return b"a,b\n" + b"".join(body)


def test_csv_record_count_matches_pyarrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    p = tmp_path / "t.csv"
    checked = 0
    for _ in range(150):
        p.write_bytes(_tricky_csv(rng))
        try:
            expected = pacsv.read_csv(p).num_rows
        except Exception:  # pyarrow refuses some generated layouts: nothing to compare with
            continue
        monkeypatch.setattr(describe_mod, "_SCAN_CHUNK", int(rng.integers(1, 12)))
        assert count_csv_records(p) - 1 == expected, p.read_bytes()
        checked += 1
    assert checked > 100


def test_sampled_and_full_descriptions_agree(ws: Workspace, tmp_path: Path) -> None:
    rows = [f'{i},"v{i}\nsecond line",{i * 0.5}' for i in range(300)]
    src = _csv(tmp_path / "d.csv", "k,text,x\n" + "\r\n".join(rows) + "\r\n\r\n")
    full = Datasets(ws).add_file(src, "full")
    # a second workspace, so neither the stat cache nor the stored object answers for it
    other = tmp_path / "other"
    (other / "params").mkdir(parents=True)
    (other / "params" / "pipeline.yaml").write_text("version: 1\nstages: {}\n")
    sampled = Datasets(Workspace(other), full_parse_bytes=0).add_file(src, "sampled")
    assert full.rows == sampled.rows == 300
    assert full.dtypes == sampled.dtypes
    assert full.extra["described"] == "full" and sampled.extra["described"] == "sampled"


def test_records_counted_while_copying_match_a_full_parse(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a settled file: hashed and counted from the source while it is copied (not re-read)
    rows = [f'{i},"v{i}\nsecond ""line""",{i * 0.5}' for i in range(400)]
    src = _csv(tmp_path / "d.csv", "k,text,x\n" + "\r\n".join(rows) + "\r\n\n", settle=True)
    fed: list[int] = []
    original = describe_mod.RecordCounter.feed

    def spy(self, data, n):  # records what the copy fed the counter, then counts as usual
        fed.append(n)
        return original(self, data, n)

    monkeypatch.setattr(describe_mod.RecordCounter, "feed", spy)
    monkeypatch.setattr(describe_mod, "_SCAN_CHUNK", 7)  # chunk borders everywhere
    dv = Datasets(ws, full_parse_bytes=0).add_file(src, "d")
    assert fed == [src.stat().st_size]
    assert dv.rows == pacsv.read_csv(src).num_rows == 400
    assert dv.extra["described"] == "sampled"
    assert Datasets(ws).store.verify(dv.digest)


def test_killed_add_leaves_no_partial_object_and_the_next_add_succeeds(
    ws: Workspace, tmp_path: Path
) -> None:
    src = tmp_path / "big.csv"
    with open(src, "wb") as fh:
        fh.write(b"a,b,c\n")
        block = b"123456,654321,0.123456789\n" * 40_000
        for _ in range(120):  # about 125 MB: sampled describe, long enough to catch
            fh.write(block)
    lib = Path(nbtrail.__file__).resolve().parents[1]
    code = (
        "import sys; from pathlib import Path; from nbtrail.core.workspace import Workspace; "
        "from nbtrail.data.datasets import "
        "Datasets; Datasets(Workspace(Path(sys.argv[1]))).add_file(sys.argv[2], 'big')"
    )
    env = {**os.environ, "PYTHONPATH": f"{lib}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-c", code, str(ws.root), str(src)], env=env)
    tmp_dir = ws.objects_dir / "tmp"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if tmp_dir.is_dir() and any(tmp_dir.iterdir()):
                break
            time.sleep(0.001)
        assert proc.poll() is None, "the add finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    partial = list(tmp_dir.iterdir())
    assert len(partial) == 1 and partial[0].name.startswith(f"obj.{proc.pid}.")
    cat = Datasets(ws)
    assert list(cat.store.iter_digests()) == []
    assert cat.versions("big") == []
    dv = cat.add_file(src, "big")
    assert dv.rows == 120 * 40_000 and cat.store.verify(dv.digest)
    assert list(tmp_dir.iterdir()) == []  # the dead writer's temp file was cleaned


def test_parquet_files_are_described_from_their_metadata(ws: Workspace, tmp_path: Path) -> None:
    df = pd.DataFrame({"x": np.arange(20, dtype="int32"), "y": ["a", "b"] * 10})
    src = tmp_path / "d.parquet"
    df.to_parquet(src, index=True)
    dv = Datasets(ws).add_file(src, "pq")
    assert dv.format == "parquet" and dv.rows == 20
    assert dv.columns == ["x", "y"] and dv.dtypes["x"] == "int32"
    pd.testing.assert_frame_equal(Datasets(ws).read_frame("pq").reset_index(drop=True), df)


def test_concurrent_adds_under_one_name_each_get_a_version(ws: Workspace) -> None:
    from concurrent.futures import ThreadPoolExecutor

    frames = [pd.DataFrame({"a": np.arange(10) + i}) for i in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        added = list(pool.map(lambda f: Datasets(ws).add_frame(f, "shared"), frames))
    versions = Datasets(ws).versions("shared")
    assert sorted(v.version for v in versions) == [1, 2, 3, 4, 5, 6]
    assert {v.digest for v in versions} == {v.digest for v in added}
    assert [v.parent for v in versions] == [None, 1, 2, 3, 4, 5]
