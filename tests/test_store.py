"""The content-addressed object store: dedupe, read-only objects, verification, temp files."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from nbtrail.core.errors import DataError, IntegrityError, NotFound
from nbtrail.core.hashing import hash_bytes
from nbtrail.data.store import ObjectStore


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "objects")


def _objects(store: ObjectStore) -> list[str]:
    return list(store.iter_digests())


def test_identical_bytes_are_stored_once_read_only(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "a.bin"
    src.write_bytes(b"hello world\n" * 1000)
    d1 = store.put_file(src)
    d2 = store.put_file(src)
    d3 = store.put_bytes(src.read_bytes())
    assert d1 == d2 == d3 == hash_bytes(src.read_bytes())
    assert _objects(store) == [d1]
    p = store.path(d1)
    assert p == store.root / d1[:2] / d1[2:]
    assert stat.S_IMODE(p.stat().st_mode) == 0o444
    assert store.read_bytes(d1) == src.read_bytes()
    assert list(store.tmp_dir.iterdir()) == []


def test_different_bytes_get_different_objects(store: ObjectStore) -> None:
    a = store.put_bytes(b"one")
    b = store.put_bytes(b"two")
    assert a != b
    assert sorted(_objects(store)) == sorted([a, b])


def test_not_an_object_id_is_refused(store: ObjectStore) -> None:
    for bad in ("", "../../etc/passwd", "z" * 64, "a" * 63):
        with pytest.raises(NotFound):
            store.path(bad)


@pytest.mark.parametrize("damage", ["tamper", "truncate"])
def test_damaged_object_is_detected_on_read(store: ObjectStore, damage: str) -> None:
    data = b"x,y\n" + b"1,2\n" * 500
    digest = store.put_bytes(data)
    p = store.path(digest)
    p.chmod(0o644)
    if damage == "tamper":
        p.write_bytes(data.replace(b"1,2", b"1,3", 1))
    else:
        p.write_bytes(data[:100])
    assert not store.verify(digest)
    with pytest.raises(IntegrityError) as err:
        store.read_bytes(digest, what="dataset d@1")
    assert "dataset d@1" in str(err.value) and digest in str(err.value)
    with pytest.raises(IntegrityError) as err:
        store.open_verified(digest, what="dataset d@1")
    assert err.value.facts["digest"] == digest


def test_re_adding_good_bytes_repairs_a_damaged_object(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_bytes(b"a\n1\n2\n")
    digest = store.put_file(src)
    store.path(digest).chmod(0o644)
    store.path(digest).write_bytes(b"a\n1\n")
    assert store.put_file(src) == digest
    assert store.verify(digest)
    assert stat.S_IMODE(store.path(digest).stat().st_mode) == 0o444


def test_missing_object_is_not_found(store: ObjectStore) -> None:
    with pytest.raises(NotFound):
        store.open_verified("0" * 64, what="dataset d@1")


def test_failed_inspection_leaves_nothing(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_bytes(b"payload")

    def refuse(path: Path) -> None:
        assert path.read_bytes() == b"payload"
        raise DataError("no thanks")

    with pytest.raises(DataError):
        store.ingest(src, refuse)
    assert _objects(store) == []
    assert list(store.tmp_dir.iterdir()) == []


def test_stale_temp_files_of_dead_writers_are_removed(store: ObjectStore) -> None:
    store.tmp_dir.mkdir(parents=True)
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead = int(proc.stdout)
    stale = store.tmp_dir / f"obj.{dead}.abc123.part"
    mine = store.tmp_dir / f"obj.{os.getpid()}.def456.part"
    stale.write_bytes(b"half")
    mine.write_bytes(b"in progress")
    removed = store.clean_tmp()
    assert removed == [stale]
    assert mine.exists() and not stale.exists()
    assert _objects(store) == []  # temp files are never objects


def test_link_out_modes(store: ObjectStore, tmp_path: Path) -> None:
    digest = store.put_bytes(b"a,b\n1,2\n")
    obj = store.path(digest)

    hard = tmp_path / "out" / "hard.csv"
    assert store.link_out(digest, hard, mode="hardlink") == "hardlink"
    assert hard.stat().st_ino == obj.stat().st_ino
    assert stat.S_IMODE(hard.stat().st_mode) == 0o444

    copy = tmp_path / "out" / "copy.csv"
    assert store.link_out(digest, copy, mode="copy") == "copy"
    assert copy.stat().st_ino != obj.stat().st_ino
    copy.write_bytes(b"edited")  # a copy is the user's to edit
    assert store.verify(digest)

    auto = tmp_path / "out" / "auto.csv"
    how = store.link_out(digest, auto)
    assert auto.read_bytes() == b"a,b\n1,2\n"
    if os.geteuid() == 0 and how != "reflink":
        # As root, 0444 would not stop a write through a hard link into the store.
        assert how == "copy"
        assert auto.stat().st_ino != obj.stat().st_ino
    assert not list(auto.parent.glob("*.nbtrail-tmp"))


def test_link_out_refuses_bad_mode_and_folders(store: ObjectStore, tmp_path: Path) -> None:
    digest = store.put_bytes(b"a\n1\n")
    with pytest.raises(DataError):
        store.link_out(digest, tmp_path / "x", mode="symlink")
    with pytest.raises(DataError):
        store.link_out(digest, tmp_path, mode="copy")


def test_link_out_refuses_a_corrupted_object(store: ObjectStore, tmp_path: Path) -> None:
    digest = store.put_bytes(b"a\n1\n")
    store.path(digest).chmod(0o644)
    store.path(digest).write_bytes(b"a\n2\n")
    with pytest.raises(IntegrityError):
        store.link_out(digest, tmp_path / "x.csv", mode="hardlink")
    assert not (tmp_path / "x.csv").exists()


def test_disk_usage_counts_each_object_once(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "a.bin"
    src.write_bytes(os.urandom(256 * 1024))
    store.put_file(src)
    once = store.disk_usage()
    store.put_file(src)
    store.link_out(hash_bytes(src.read_bytes()), tmp_path / "link.bin", mode="hardlink")
    assert once >= 256 * 1024
    assert store.disk_usage() == once


def test_auto_link_hard_links_for_an_ordinary_user(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # For a non-root user the 0444 object refuses writes, so a hard link is safe to hand out.
    monkeypatch.setattr("nbtrail.data.store.os.geteuid", lambda: 1000)
    digest = store.put_bytes(b"a\n1\n")
    out = tmp_path / "co.csv"
    how = store.link_out(digest, out)
    assert how in ("reflink", "hardlink")
    if how == "hardlink":
        assert out.stat().st_ino == store.path(digest).stat().st_ino
