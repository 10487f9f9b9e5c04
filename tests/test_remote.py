"""Push and pull against a real S3 API (moto's server on 127.0.0.1) and a plain folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nbtrail.core.errors import ConfigError, DataError, IntegrityError
from nbtrail.core.workspace import Workspace
from nbtrail.data.datasets import Datasets
from nbtrail.data.remote import Remote, pull, push, resolve_remote


def _populate(ws: Workspace, tmp_path: Path) -> Datasets:
    cat = Datasets(ws)
    (tmp_path / "a.csv").write_bytes(
        b"x,y\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(500))
    )
    (tmp_path / "b.csv").write_bytes(b"x,y,z\n1,2,3\n4,5,6\n")
    cat.add_file(tmp_path / "a.csv", "train")
    cat.add_file(tmp_path / "b.csv", "train")
    cat.add_file(tmp_path / "a.csv", "other")  # same object as train@1
    return cat


def _wipe_local(ws: Workspace) -> None:
    shutil.rmtree(ws.data_dir)


def _round_trip(ws: Workspace, tmp_path: Path, remote: Remote) -> None:
    cat = _populate(ws, tmp_path)
    before = {v.ref: v for v in cat.all_versions()}
    blobs = {d: cat.store.read_bytes(d) for d in cat.store.iter_digests()}

    sent = push(ws, remote)
    assert (sent.objects_sent, sent.manifests_sent) == (2, 3)
    again = push(ws, remote)
    assert (again.objects_sent, again.manifests_sent) == (0, 0)
    assert (again.objects_present, again.manifests_present) == (2, 3)

    _wipe_local(ws)
    assert Datasets(ws).all_versions() == []
    got = pull(ws, remote)
    assert (got.objects_sent, got.manifests_sent) == (2, 3)
    cat = Datasets(ws)
    assert {v.ref: v for v in cat.all_versions()} == before
    for digest, data in blobs.items():
        assert cat.store.path(digest).read_bytes() == data  # byte-identical
    assert cat.verify().ok
    assert cat.read_frame("train@2")["z"].tolist() == [3, 6]

    nothing = pull(ws, remote)
    assert (nothing.objects_sent, nothing.manifests_sent) == (0, 0)


def test_s3_round_trip_is_byte_identical(ws: Workspace, tmp_path: Path, s3_remote: Remote) -> None:
    _round_trip(ws, tmp_path, s3_remote)


def test_folder_round_trip_is_byte_identical(ws: Workspace, tmp_path: Path) -> None:
    remote = Remote(str(tmp_path / "share" / "nbtrail"))
    _round_trip(ws, tmp_path, remote)
    objects = sorted((tmp_path / "share" / "nbtrail" / "objects").rglob("*"))
    assert not [p for p in objects if p.name.endswith(".part")]


def test_pull_only_named_datasets(ws: Workspace, tmp_path: Path, s3_remote: Remote) -> None:
    _populate(ws, tmp_path)
    push(ws, s3_remote)
    _wipe_local(ws)
    pull(ws, s3_remote, names=["train"])
    assert Datasets(ws).names() == ["train"]
    with pytest.raises(DataError, match="no dataset nope"):
        pull(ws, s3_remote, names=["nope"])


def test_pull_refuses_a_corrupted_remote_object(
    ws: Workspace, tmp_path: Path, s3_remote: Remote
) -> None:
    cat = _populate(ws, tmp_path)
    push(ws, s3_remote)
    digest = cat.get("train@2").digest
    fs, root = s3_remote.filesystem()
    fs.pipe_file(f"{root}/objects/{digest[:2]}/{digest[2:]}", b"x,y,z\n1,2,3\n4,5,7\n")
    _wipe_local(ws)
    with pytest.raises(IntegrityError) as err:
        pull(ws, s3_remote)
    assert digest in str(err.value) and "train@2" in str(err.value)
    cat = Datasets(ws)
    assert digest not in set(cat.store.iter_digests())
    assert cat.names() == []  # no manifest names an object that is not here


def test_pull_repairs_a_corrupted_local_object(ws: Workspace, tmp_path: Path) -> None:
    remote = Remote(str(tmp_path / "share"))
    cat = _populate(ws, tmp_path)
    push(ws, remote)
    digest = cat.get("train@2").digest
    obj = cat.store.path(digest)
    obj.chmod(0o644)
    obj.write_bytes(b"x,y,z\n0,0,0\n0,0,0\n")
    assert not cat.verify().ok
    rep = pull(ws, remote)
    assert rep.repaired == [digest]
    assert cat.verify().ok


def test_push_never_publishes_corrupted_bytes(ws: Workspace, tmp_path: Path) -> None:
    remote = Remote(str(tmp_path / "share"))
    cat = _populate(ws, tmp_path)
    digest = cat.get("train@2").digest
    cat.store.path(digest).chmod(0o644)
    cat.store.path(digest).write_bytes(b"damaged")
    with pytest.raises(IntegrityError, match="train@2"):
        push(ws, remote)
    assert not list((tmp_path / "share").rglob("*.json"))


def test_diverged_histories_are_refused(ws: Workspace, tmp_path: Path) -> None:
    remote = Remote(str(tmp_path / "share"))
    _populate(ws, tmp_path)
    push(ws, remote)
    _wipe_local(ws)
    (tmp_path / "c.csv").write_text("q\n1\n")
    Datasets(ws).add_file(tmp_path / "c.csv", "train")  # a different train@1
    with pytest.raises(DataError, match="train@1"):
        push(ws, remote)
    with pytest.raises(DataError, match="train@1"):
        pull(ws, remote)


def test_remote_comes_from_the_option_or_pipeline_yaml(ws: Workspace) -> None:
    with pytest.raises(ConfigError, match="no remote"):
        resolve_remote(ws)
    assert resolve_remote(ws, "/x", endpoint_url="http://h:1") == Remote(
        "/x", {"endpoint_url": "http://h:1"}
    )
    text = ws.pipeline_file.read_text()
    ws.pipeline_file.write_text(text + "remote: s3://b/p\n")
    assert resolve_remote(ws) == Remote("s3://b/p")
    ws.pipeline_file.write_text(
        text + "remote:\n  url: s3://b/p\n  endpoint_url: http://127.0.0.1:9\n"
    )
    assert resolve_remote(ws) == Remote("s3://b/p", {"endpoint_url": "http://127.0.0.1:9"})
    assert resolve_remote(ws, "/elsewhere").url == "/elsewhere"
    ws.pipeline_file.write_text(text + "remote:\n  url: s3://b/p\n  secret: x\n")
    with pytest.raises(ConfigError, match="unknown keys"):
        resolve_remote(ws)


def test_cli_push_and_pull_s3(
    ws: Workspace,
    tmp_path: Path,
    s3_remote: Remote,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from nbtrail.cli import main

    _populate(ws, tmp_path)
    endpoint = s3_remote.options["endpoint_url"]
    args = ["-C", str(ws.root), "data"]
    assert main([*args, "push", s3_remote.url, "--endpoint-url", endpoint]) == 0
    assert "2 object(s)" in capsys.readouterr().out
    _wipe_local(ws)
    ws.pipeline_file.write_text(
        ws.pipeline_file.read_text()
        + f"remote:\n  url: {s3_remote.url}\n  endpoint_url: {endpoint}\n"
    )
    assert main([*args, "pull"]) == 0
    assert "pulled from" in capsys.readouterr().out
    assert main([*args, "verify"]) == 0
    assert Datasets(ws).get("train").version == 2
