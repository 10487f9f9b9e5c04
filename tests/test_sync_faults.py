"""Remotes on a bad day, without a kernel: `data push/pull` and `runs push/pull` killed with
SIGKILL half-way (a real `nbtrail` process, killed as soon as its first object lands), and a
hostile remote (paths out of the workspace, bytes that do not match their name, huge objects).

After a kill the remote and the local store stay consistent (every object under a final name
holds the bytes of its name, no manifest names a missing object, nothing half-written under a
final name) and the next push or pull ends where a clean one does. A hostile remote is refused
with one line and its own exit code, and nothing is written outside the workspace nor left
half-done inside it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _project import nbtrail
from _records import Factory

from nbtrail.core.applog import log_writer, read_log
from nbtrail.core.errors import RemoteRefused
from nbtrail.core.hashing import hash_bytes
from nbtrail.core.workspace import Workspace
from nbtrail.data.datasets import Datasets, DatasetVersion
from nbtrail.data.remote import Remote, pull, push
from nbtrail.runs import index, records
from nbtrail.runs.sync import pull_runs, push_runs

PIPELINE = "version: 1\nstages: {}\n"
DATA_VERSIONS = 24  # enough objects that a push or pull is still under way when it is killed
S3_VERSIONS = 40  # a quiet moto answers in ~5 ms: 10 objects could all land between two looks
RUN_FILES = 120


def _empty_ws(root: Path) -> Workspace:
    (root / "params").mkdir(parents=True)
    (root / "params" / "pipeline.yaml").write_text(PIPELINE)
    (root / "workspace").mkdir()
    return Workspace(root)


def _data_ws(root: Path, n: int = DATA_VERSIONS) -> Workspace:
    """A workspace holding ``n`` small dataset versions (stored as a pull stores them)."""
    ws = _empty_ws(root)
    cat = Datasets(ws)
    for i in range(n):
        body = b"x,y\n" + b"".join(b"%d,%d\n" % (i, j) for j in range(200))
        name, version = f"set{i % 6}", i // 6 + 1
        dv = DatasetVersion(
            name=name,
            version=version,
            digest=cat.store.put_bytes(body),
            format="csv",
            rows=200,
            columns=["x", "y"],
            dtypes={"x": "int64", "y": "int64"},
            source=f"d{i}.csv",
            parent=version - 1 or None,
            created="2026-12-03T00:00:00+00:00",
            bytes=len(body),
        )
        cat.import_version(dv)
    return ws


def _run_ws(root: Path, files: int = RUN_FILES, size: int = 2048) -> tuple[Workspace, str]:
    """A workspace with one finished run (a record from tests/_records.py, a model output,
    ``files`` more files in its folder) and two registry events."""
    ws = _empty_ws(root)
    fac = Factory(ws)
    rec = fac.record("train", metrics={"auc": 0.9})
    rid = rec["run_id"]
    rec["outputs"] = {"model": fac.output_file(rid, "model", b"model-bytes" * 100, "model")}
    parts = ws.run_dir(rid) / "outputs" / "parts"
    parts.mkdir(parents=True)
    for i in range(files):
        (parts / f"p{i:04d}.bin").write_bytes(hash_bytes(b"%d" % i).encode() * (size // 64))
    fac.write(rec)
    with log_writer(ws.registry_log) as append:
        for v in (1, 2):
            append({"type": "alias", "name": "m", "alias": "prod", "to_version": v, "at": f"t{v}"})
    return ws, rid


# -- looking at a remote and a workspace ---------------------------------------------------------


def _tree(fs: Any, root: str) -> dict[str, bytes]:
    """Every file under ``root`` (relative key -> bytes)."""
    fs.invalidate_cache()
    try:
        keys = fs.find(root)
    except FileNotFoundError:
        return {}
    return {k[len(root) :].lstrip("/"): fs.cat_file(k) for k in keys}


def _final(tree: dict[str, bytes]) -> dict[str, bytes]:
    """Files under their final names; a log segment keyed by its hash, not its time stamp."""
    out = {}
    for key, data in tree.items():
        if key.endswith(".part"):
            continue
        if key.startswith("logs/"):
            log, name = key.split("/")[1], key.rsplit("/", 1)[-1]
            key = f"logs/{log}/{name.rsplit('-', 1)[-1]}"
        out[key] = data
    return out


def _assert_remote_consistent(tree: dict[str, bytes]) -> None:
    objects = set()
    for key, data in tree.items():
        if key.endswith(".part"):
            continue  # a temp name: never read, never listed as an object
        parts = key.split("/")
        if parts[0] == "objects":
            assert len(parts) == 3 and hash_bytes(data) == parts[1] + parts[2], key
            objects.add(parts[1] + parts[2])
    for key, data in tree.items():
        if key.endswith(".part") or key.startswith("objects/"):
            continue
        if key.startswith("datasets/"):
            assert json.loads(data)["digest"] in objects, key
        elif key.startswith("runs/"):
            assert set(json.loads(data)["files"].values()) <= objects, key
        elif key.startswith("logs/"):
            assert hash_bytes(data) == key.rsplit("-", 1)[-1].removesuffix(".jsonl"), key
        else:
            pytest.fail(f"unexpected file on the remote: {key}")


def _local_data(ws: Workspace) -> dict[str, bytes]:
    """The store's objects and the dataset manifests (not temp files, not locks)."""
    out = {}
    for p in sorted(ws.data_dir.rglob("*")):
        rel = p.relative_to(ws.data_dir).as_posix()
        if p.is_file() and not p.name.startswith(".") and not rel.startswith("objects/tmp/"):
            out[rel] = p.read_bytes()
    return out


def _assert_local_data_consistent(ws: Workspace) -> None:
    cat = Datasets(ws)
    report = cat.verify()
    assert report.ok, (report.corrupted, report.missing)
    for p in ws.objects_dir.rglob("*"):  # nothing half-written under a final name
        if p.is_file() and p.parent.name != "tmp":
            assert hash_bytes(p.read_bytes()) == p.parent.name + p.name


def _files(top: Path) -> dict[str, str]:
    """Every file under ``top`` (relative path -> hash; a huge one by its size), for "nothing
    changed" checks."""
    out = {}
    for p in sorted(top.rglob("*")):
        if p.is_symlink() or not p.is_file():
            continue
        size = p.stat().st_size
        rel = p.relative_to(top).as_posix()
        out[rel] = f"{size} bytes" if size > 2**26 else hash_bytes(p.read_bytes())
    return out


def _visible_runs(ws: Workspace) -> list[str]:
    if not ws.runs_dir.is_dir():
        return []
    return sorted(p.name for p in ws.runs_dir.iterdir() if not p.name.startswith("."))


# -- killing a transfer half-way ------------------------------------------------------------------


def _kill_when_landed(
    root: Path, args: list[str], landed: Callable[[], bool], *, every: float = 0.001
) -> None:
    """Start ``nbtrail -C root ARGS`` and SIGKILL it as soon as ``landed()`` (its first object
    is where it sends it; asked ``every`` seconds); fail if it ended by itself first."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("NBTRAIL_ROOT", None)
    cmd = [sys.executable, "-m", "nbtrail", "-C", str(root), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    try:
        while not landed():
            if proc.poll() is not None or time.monotonic() > deadline:
                out, err = proc.communicate(timeout=10)
                pytest.fail(f"{args} ended ({proc.returncode}) before anything landed: {err!r}")
            time.sleep(every)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"{args} finished before it was killed"


def _object_landed(fs: Any, root: str) -> Callable[[], bool]:
    def landed() -> bool:
        fs.invalidate_cache()
        try:
            keys = fs.find(f"{root}/objects")
        except FileNotFoundError:
            return False
        return any(not k.endswith(".part") for k in keys)

    return landed


def _remote_args(remote: Remote, flag: str | None = "--remote") -> list[str]:
    args = [flag, remote.url] if flag else [remote.url]
    if remote.options.get("endpoint_url"):
        args += ["--endpoint-url", remote.options["endpoint_url"]]
    return args


@pytest.mark.parametrize("kind", ["folder", "s3"])
def test_data_push_killed_half_way(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    # moto's server answers in 10-100 ms on a loaded machine: fewer objects, and asked every
    # 0.1 s (asked more often, it answers the push that much later)
    n, every = (DATA_VERSIONS, 0.001) if kind == "folder" else (S3_VERSIONS, 0.1)
    if kind == "s3":
        remote: Remote = request.getfixturevalue("s3_remote")
        clean = Remote(remote.url.replace("/team/", "/clean/"), remote.options)
    else:
        remote, clean = Remote(str(tmp_path / "remote")), Remote(str(tmp_path / "clean"))
    ws = _data_ws(tmp_path / "a", n)
    fs, root = remote.filesystem()
    args = ["data", "push", *_remote_args(remote, None)]
    _kill_when_landed(ws.root, args, _object_landed(fs, root), every=every)

    killed = _tree(fs, root)
    _assert_remote_consistent(killed)
    assert not any(k.startswith("datasets/") for k in killed)  # killed while sending objects
    assert 0 < sum(k.startswith("objects/") for k in _final(killed)) < n

    if kind == "folder":  # the killed push's temp file, once a day old, goes with the next push
        live = Path(root) / "objects" / "ab" / ("c" * 62 + ".0123abcd.part")
        live.parent.mkdir(exist_ok=True)
        live.write_bytes(b"a push under way elsewhere")
        live.with_name("c" * 62 + ".deadbeef.part").write_bytes(b"a push killed yesterday")
        day_old = time.time() - 25 * 3600
        for part in Path(root).rglob("*.part"):
            if part != live:
                os.utime(part, (day_old, day_old))
    rep = push(ws, remote)  # the next push completes what is missing
    assert rep.objects_sent + rep.objects_present == n and rep.objects_present > 0
    push(ws, clean)
    cfs, croot = clean.filesystem()
    after = _tree(fs, root)
    assert _final(after) == _final(_tree(cfs, croot))  # as a clean push leaves it
    _assert_remote_consistent(after)
    if kind == "folder":
        assert [k for k in after if k.endswith(".part")] == [live.relative_to(root).as_posix()]


def test_data_pull_killed_half_way(tmp_path: Path) -> None:
    remote = Remote(str(tmp_path / "remote"))
    push(_data_ws(tmp_path / "a"), remote)
    b = _empty_ws(tmp_path / "b")

    def landed() -> bool:
        return any(p.is_file() for p in b.objects_dir.glob("??/*"))

    _kill_when_landed(b.root, ["data", "pull", remote.url], landed)
    _assert_local_data_consistent(b)
    assert not list(b.data_dir.glob("datasets/*/*.json")) or Datasets(b).verify().ok
    assert 0 < len(list(b.objects_dir.glob("??/*"))) < DATA_VERSIONS

    pull(b, remote)  # the next pull completes it, and cleans the killed pull's temp file
    assert not [p for p in b.objects_dir.glob("tmp/*")]
    c = _empty_ws(tmp_path / "c")
    pull(c, remote)
    assert _local_data(b) == _local_data(c)
    _assert_local_data_consistent(b)


def test_runs_push_killed_half_way(tmp_path: Path) -> None:
    ws, rid = _run_ws(tmp_path / "a")
    remote, clean = Remote(str(tmp_path / "remote")), Remote(str(tmp_path / "clean"))
    fs, root = remote.filesystem()
    _kill_when_landed(ws.root, ["runs", "push", "--remote", remote.url], _object_landed(fs, root))

    killed = _tree(fs, root)
    _assert_remote_consistent(killed)
    assert not any(k.startswith(("runs/", "logs/")) for k in killed)  # no manifest yet
    assert 0 < sum(k.startswith("objects/") for k in _final(killed)) < RUN_FILES

    rep = push_runs(ws, remote)
    assert rep.runs == [rid] and rep.log_entries == 2 and rep.objects_present > 0
    push_runs(ws, clean)
    cfs, croot = clean.filesystem()
    assert _final(_tree(fs, root)) == _final(_tree(cfs, croot))
    _assert_remote_consistent(_tree(fs, root))


def test_runs_pull_killed_half_way(tmp_path: Path) -> None:
    a, rid = _run_ws(tmp_path / "a")
    remote = Remote(str(tmp_path / "remote"))
    push_runs(a, remote)
    b = _empty_ws(tmp_path / "b")

    def landed() -> bool:  # the first file in the pull's hidden staging folder
        staging = list(b.runs_dir.glob(".pull.*")) if b.runs_dir.is_dir() else []
        return any(p.is_file() for s in staging for p in (*s.iterdir(), *s.glob("outputs/*")))

    _kill_when_landed(b.root, ["runs", "pull", "--remote", remote.url], landed)
    assert _visible_runs(b) == []  # nothing half-pulled is served
    assert not b.registry_log.exists()

    rep = pull_runs(b, remote)  # the next pull completes and clears the killed one's staging
    assert rep.runs == [rid] and rep.log_entries == 2
    assert sorted(p.name for p in b.runs_dir.iterdir()) == [rid]
    c = _empty_ws(tmp_path / "c")
    pull_runs(c, remote)
    assert _files(b.run_dir(rid)) == _files(c.run_dir(rid)) == _files(a.run_dir(rid))
    assert read_log(b.registry_log)[0] == read_log(c.registry_log)[0]
    assert index.resolve_run_id(b, rid) == rid and records.load(b, rid)["run_id"] == rid


# -- a hostile remote -----------------------------------------------------------------------------


def _one_line(r: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == code and len(lines) == 1, r.stderr
    assert lines[0].startswith("nbtrail: error: ")
    for n in needles:
        assert n in lines[0], lines[0]


def _manifest(object_id: str, **kw: Any) -> dict[str, Any]:
    """A dataset manifest train@1 of ``object_id`` (4 bytes), ``kw`` replacing fields."""
    body = {
        "name": "train",
        "version": 1,
        "digest": object_id,
        "format": "csv",
        "rows": 1,
        "columns": ["x"],
        "dtypes": {"x": "int64"},
        "source": None,
        "parent": None,
        "created": "2026-12-03T00:00:00+00:00",
        "bytes": 4,
        "manifest_version": 1,
    }
    return {**body, **kw}


def _put_object(remote: Path, data: bytes) -> str:
    digest = hash_bytes(data)
    (remote / "objects" / digest[:2]).mkdir(parents=True, exist_ok=True)
    (remote / "objects" / digest[:2] / digest[2:]).write_bytes(data)
    return digest


def _write(path: Path, body: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body))


@pytest.mark.parametrize(
    "folder,body",
    [
        ("train", {"name": "../../evil"}),
        ("train", {"name": "/tmp/nbtrail-evil"}),
        ("..evil", {"name": "..evil"}),
        ("train", {"digest": "../../../../evil"}),
        ("train", {"bytes": -1}),
    ],
)
def test_data_pull_refuses_a_hostile_manifest(
    tmp_path: Path, folder: str, body: dict[str, Any]
) -> None:
    ws = _empty_ws(tmp_path / "p")
    remote = tmp_path / "remote"
    digest = _put_object(remote, b"x\n1\n")
    _write(remote / "datasets" / folder / "1.json", _manifest(digest, **body))
    before = _files(tmp_path)
    with pytest.raises(RemoteRefused, match="refus"):
        pull(ws, str(remote))
    assert _files(tmp_path) == before  # nothing written, outside the workspace or in it
    assert not Path("/tmp/nbtrail-evil").exists() and not (ws.root / "evil").exists()
    if body.get("name") == "../../evil":
        _one_line(nbtrail(ws.root, "data", "pull", str(remote)), 15, "names another dataset")
        assert _files(tmp_path) == before


def test_data_pull_refuses_bytes_that_do_not_match(tmp_path: Path) -> None:
    ws = _empty_ws(tmp_path / "p")
    remote = tmp_path / "remote"
    digest = _put_object(remote, b"x\n1\n")
    (remote / "objects" / digest[:2] / digest[2:]).write_bytes(b"x\n2\n")  # same size
    _write(remote / "datasets" / "train" / "1.json", _manifest(digest))
    before = _files(tmp_path)
    _one_line(nbtrail(ws.root, "data", "pull", str(remote)), 5, digest, "train@1")
    assert _files(tmp_path) == before
    assert not list(ws.objects_dir.glob("tmp/*"))


def test_data_pull_refuses_a_huge_object(tmp_path: Path) -> None:
    ws = _empty_ws(tmp_path / "p")
    remote = tmp_path / "remote"
    digest = _put_object(remote, b"x\n1\n")
    obj = remote / "objects" / digest[:2] / digest[2:]
    with obj.open("r+b") as f:
        f.truncate(4 * 1024**3)  # 4 GiB (sparse): bigger than its manifest's 4 bytes
    _write(remote / "datasets" / "train" / "1.json", _manifest(digest))
    before = _files(ws.root)
    with pytest.raises(RemoteRefused, match=f"object {digest} .*bigger than 4 bytes"):
        pull(ws, str(remote))
    assert _files(ws.root) == before and not list(ws.objects_dir.glob("tmp/*"))

    # No size in the manifest: the remote's cap bounds it; an object that never ends (a link
    # to /dev/zero on a folder remote) is cut off there, not read whole.
    obj.unlink()
    obj.symlink_to("/dev/zero")
    _write(remote / "datasets" / "train" / "1.json", _manifest(digest, bytes=0))
    with pytest.raises(RemoteRefused, match="bigger than 1,048,576 bytes"):
        pull(ws, Remote(str(remote), max_object_bytes=1024**2))
    assert _files(ws.root) == before and not list(ws.objects_dir.glob("tmp/*"))
    assert Datasets(ws).names() == []


def _run_manifest(rid: str, files: dict[str, str], **kw: Any) -> dict[str, Any]:
    return {
        "format": "nbtrail-run/1",
        "run_id": rid,
        "stage": "train",
        "status": "completed",
        "files": {f"workspace/runs/{rid}/record.json": "0" * 64, **files},
        **kw,
    }


@pytest.mark.parametrize(
    "path",
    [
        "../evil",
        "/tmp/nbtrail-evil",
        "workspace/../../evil",
        "workspace/runs/x-1/../../../evil",
        "workspace/runs/other-1/record.json",  # another run's folder
        "workspace/data/objects/ab/" + "c" * 62,  # the store, behind its back
        "workspace/registry/events.jsonl",  # a log: merged entry by entry, never overwritten
        "workspace/runs/.pull.1.x/record.json",  # a hidden (staging) name
        "workspace/runs/x-1/record.json/inside",  # a file that is also a folder
    ],
)
def test_runs_pull_refuses_a_hostile_path(tmp_path: Path, path: str) -> None:
    ws = _empty_ws(tmp_path / "p")
    remote = tmp_path / "remote"
    digest = _put_object(remote, b"anything")
    _write(remote / "runs" / "x-1.json", _run_manifest("x-1", {path: digest}))
    before = _files(tmp_path)
    with pytest.raises(RemoteRefused, match="refus"):
        pull_runs(ws, str(remote))
    assert _files(tmp_path) == before and _visible_runs(ws) == []
    assert not Path("/tmp/nbtrail-evil").exists()
    if path == "../evil":
        _one_line(nbtrail(ws.root, "runs", "pull", "--remote", str(remote)), 15, "'../evil'")
        assert _files(tmp_path) == before


@pytest.fixture
def pushed_run(tmp_path: Path) -> tuple[Path, str, Path]:
    """A folder remote holding one run (few files); returns (remote, run id, its model object)."""
    a, rid = _run_ws(tmp_path / "a", files=3)
    remote = tmp_path / "remote"
    push_runs(a, str(remote))
    digest = records.load(a, rid)["outputs"]["model"]["digest"]
    return remote, rid, remote / "objects" / digest[:2] / digest[2:]


def test_runs_pull_refuses_bytes_that_do_not_match(
    tmp_path: Path, pushed_run: tuple[Path, str, Path]
) -> None:
    remote, rid, obj = pushed_run
    data = bytearray(obj.read_bytes())
    data[0] ^= 1
    obj.write_bytes(bytes(data))
    b = _empty_ws(tmp_path / "b")
    before = _files(tmp_path)
    r = nbtrail(b.root, "runs", "pull", "--remote", str(remote))
    _one_line(r, 5, obj.parent.name + obj.name, rid, "outputs/model.bin")
    assert _files(tmp_path) == before
    assert not list(b.runs_dir.iterdir())  # no run folder, no staging left
    assert not b.registry_log.exists()


def test_runs_pull_refuses_a_huge_object(
    tmp_path: Path, pushed_run: tuple[Path, str, Path]
) -> None:
    remote, rid, obj = pushed_run
    size = obj.stat().st_size
    with obj.open("r+b") as f:
        f.truncate(4 * 1024**3)  # 4 GiB (sparse), the manifest says `size`
    b = _empty_ws(tmp_path / "b")
    before = _files(tmp_path)
    with pytest.raises(RemoteRefused, match=f"{rid}.*bigger than {size:,} bytes"):
        pull_runs(b, str(remote))
    assert _files(tmp_path) == before and not list(b.runs_dir.iterdir())

    # A manifest without sizes: the cap bounds every object; a manifest that never ends is
    # refused too.
    manifest = remote / "runs" / f"{rid}.json"
    body = json.loads(manifest.read_text())
    body.pop("sizes")
    manifest.write_text(json.dumps(body))
    with pytest.raises(RemoteRefused, match="bigger than 65,536 bytes"):
        pull_runs(b, Remote(str(remote), max_object_bytes=65536))
    manifest.unlink()
    manifest.symlink_to("/dev/zero")
    with pytest.raises(RemoteRefused, match=f"manifest of run {rid} is bigger than"):
        pull_runs(b, str(remote))
    del before[manifest.relative_to(tmp_path).as_posix()]
    assert _files(tmp_path) == before and not list(b.runs_dir.iterdir())
