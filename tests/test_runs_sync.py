"""`nbtrail runs push` / `runs pull` between two projects, through a folder and a real S3 API
(moto's server on 127.0.0.1): the second project reuses the first's stages without starting a
kernel, reproduces them, refuses a tampered object, and keeps both sides' registry history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from _project import make_project, nbtrail, records

from nbtrail.core.applog import log_writer, read_log
from nbtrail.core.errors import DataError, IntegrityError, NotFound
from nbtrail.core.workspace import Workspace
from nbtrail.data.remote import Remote
from nbtrail.practices import registry
from nbtrail.runs.sync import pull_inputs_for, pull_runs, push_run_folder, push_runs


def _two_stage(root: Path) -> Path:
    """The project with only the cheap `data` and `train` stages (a small, quick model)."""
    make_project(root)
    conf = yaml.safe_load((root / "params" / "pipeline.yaml").read_text())
    conf["stages"] = {k: v for k, v in conf["stages"].items() if k in ("data", "train")}
    conf.pop("profiles", None)  # the demo profile sets evaluate's and export's values only
    (root / "params" / "pipeline.yaml").write_text(yaml.safe_dump(conf))
    train = yaml.safe_load((root / "params" / "train.yaml").read_text())
    train.update(n_estimators=10, cv_folds=2)
    (root / "params" / "train.yaml").write_text(yaml.safe_dump(train))
    return root


@pytest.fixture(scope="module")
def project_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Project A, with one completed run of `data` and of `train`."""
    root = _two_stage(tmp_path_factory.mktemp("a") / "project")
    r = nbtrail(root, "run")
    assert r.returncode == 0, r.stderr
    assert sorted(rec["stage"] for rec in records(root)) == ["data", "train"]
    return root


def _run_folders(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "workspace" / "runs").iterdir())


def _assert_reused_without_kernel(root: Path, a_runs: list[str]) -> None:
    before = _run_folders(root)
    r = nbtrail(root, "run")
    assert r.returncode == 0, r.stderr
    assert "nothing changed: every stage reused its last run" in r.stdout
    assert "running notebooks/" not in r.stderr  # the runner never executed a notebook
    for stage in ("data", "train"):
        assert f"{stage}: unchanged, reusing run {stage}-" in r.stderr
    assert _run_folders(root) == before == a_runs  # no new run folder, so no kernel ran
    assert not list((root / "workspace" / "tmp" / "kernels").glob("*"))


def test_runs_travel_through_a_folder_remote(project_a: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    r = nbtrail(project_a, "runs", "push", "--remote", str(remote))
    assert r.returncode == 0, r.stderr
    assert "pushed to" in r.stdout and ": 2 run(s)" in r.stdout
    assert sorted(p.name for p in (remote / "runs").iterdir()) == [
        f"{name}.json" for name in _run_folders(project_a)
    ]
    again = nbtrail(project_a, "runs", "push", "--remote", str(remote))
    assert ": 0 run(s), 0 object(s)" in again.stdout and "already there: 2 run(s)" in again.stdout

    b = _two_stage(tmp_path / "b")
    r = nbtrail(b, "runs", "pull", "--remote", str(remote))
    assert r.returncode == 0, r.stderr
    assert ": 2 run(s)" in r.stdout and "1 dataset manifest(s)" in r.stdout
    a_runs = _run_folders(project_a)
    assert _run_folders(b) == a_runs
    for run_id in a_runs:  # every file arrived byte for byte
        src, dst = project_a / "workspace/runs" / run_id, b / "workspace/runs" / run_id
        for f in src.rglob("*"):
            if f.is_file():
                assert (dst / f.relative_to(src)).read_bytes() == f.read_bytes(), f
    twice = nbtrail(b, "runs", "pull", "--remote", str(remote))
    assert ": 0 run(s), 0 object(s)" in twice.stdout and "already here: 2 run(s)" in twice.stdout
    assert _run_folders(b) == a_runs

    _assert_reused_without_kernel(b, a_runs)
    train = next(rec["run_id"] for rec in records(b) if rec["stage"] == "train")
    r = nbtrail(b, "reproduce", train)
    assert r.returncode == 0, r.stdout + r.stderr
    new = [rec for rec in records(b) if rec.get("reproduces") == train]
    assert len(new) == 1 and new[0]["status"] == "completed"
    assert new[0]["upstream"] == next(x for x in records(b) if x["run_id"] == train)["upstream"]


def test_runs_travel_through_s3(
    project_a: Path, tmp_path: Path, s3_remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = Workspace(project_a)
    train = next(rec["run_id"] for rec in records(project_a) if rec["stage"] == "train")
    sent = push_runs(a, s3_remote, ["train"])  # a stage name: its latest run, and upstream
    assert sent.runs_sent == 2 and sent.datasets_sent == 1 and sent.bytes_sent > 0
    assert push_run_folder(a, s3_remote, train).runs_present == 1

    b = _two_stage(tmp_path / "b")
    endpoint = s3_remote.options["endpoint_url"]
    conf = yaml.safe_load((b / "params" / "pipeline.yaml").read_text())
    conf["remote"] = {"url": s3_remote.url, "endpoint_url": endpoint}
    (b / "params" / "pipeline.yaml").write_text(yaml.safe_dump(conf))
    r = nbtrail(b, "runs", "pull")  # the remote from params/pipeline.yaml
    assert r.returncode == 0, r.stderr
    assert ": 2 run(s)" in r.stdout
    got = pull_runs(Workspace(b), s3_remote)
    assert (got.runs_sent, got.objects_sent, got.runs_present) == (0, 0, 2)
    _assert_reused_without_kernel(b, _run_folders(project_a))

    # A worker with no shared disk pulls just what one member reads.
    c = Workspace(_two_stage(tmp_path / "c"))
    fetched = pull_inputs_for(c, s3_remote, [train])
    assert sorted(fetched.runs) == _run_folders(project_a)
    assert not c.registry_log.exists()
    with pytest.raises(NotFound, match="has no run 'nope-1'"):
        pull_inputs_for(c, s3_remote, ["nope-1"])

    # A tampered object in the bucket is refused, naming it and its run.
    digest = next(r for r in records(project_a) if r["run_id"] == train)["outputs"]["model"]
    digest = digest["digest"]
    fs, root = s3_remote.filesystem()
    fs.pipe_file(f"{root}/objects/{digest[:2]}/{digest[2:]}", b"not the model")
    d = Workspace(_two_stage(tmp_path / "d"))
    with pytest.raises(IntegrityError, match=f"object {digest} .*of run {train}"):
        pull_runs(d, s3_remote)
    assert _run_folders(d.root) == []


def test_a_tampered_object_is_refused_naming_it(project_a: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    push_runs(Workspace(project_a), str(remote))
    train = next(rec for rec in records(project_a) if rec["stage"] == "train")
    digest = train["outputs"]["model"]["digest"]
    obj = remote / "objects" / digest[:2] / digest[2:]
    obj.chmod(0o644)
    data = bytearray(obj.read_bytes())  # the same size, other bytes (longer: RemoteRefused)
    data[len(data) // 2] ^= 0xFF
    obj.write_bytes(bytes(data))

    b = _two_stage(tmp_path / "b")
    with pytest.raises(IntegrityError) as info:
        pull_runs(Workspace(b), str(remote))
    assert digest in str(info.value) and train["run_id"] in str(info.value)
    assert "outputs/model.skops" in str(info.value)
    assert _run_folders(b) == []  # nothing of that pull became visible, no staging left
    r = nbtrail(b, "runs", "pull", "--remote", str(remote))
    assert r.returncode == 5 and len(r.stderr.strip().splitlines()) == 1
    assert digest in r.stderr and train["run_id"] in r.stderr

    # A remote holding another run under the same id is refused, not overwritten.
    manifest = remote / "runs" / f"{train['run_id']}.json"
    body = json.loads(manifest.read_text())
    body["files"][f"workspace/runs/{train['run_id']}/kernel.log"] = "1" * 64
    manifest.write_text(json.dumps(body))
    with pytest.raises(DataError, match=f"different run {train['run_id']} .*kernel.log differs"):
        push_runs(Workspace(project_a), str(remote))


def _model(ws: Workspace, name: str, body: bytes) -> int:
    f = ws.root / "workspace" / "models" / f"{name}-{len(body)}.bin"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(body)
    from nbtrail.core.hashing import hash_file

    return registry.register_model(
        ws, name, artifact_path=f, digest=hash_file(f), run_id=None, metrics={}, verdict=True
    )


def _history(ws: Workspace, run_id: str, status: str) -> None:
    with log_writer(ws.monitoring_log) as append:
        append({"run_id": run_id, "rows": [{"batch": "b1", "seq": 0, "status": status}]})


def _other_workspace(tmp_path: Path) -> Workspace:
    root = tmp_path / "other"
    (root / "params").mkdir(parents=True)
    (root / "params" / "pipeline.yaml").write_text("version: 1\nstages: {}\n")
    (root / "workspace").mkdir()
    return Workspace(root)


def test_registry_and_monitoring_logs_merge_and_keep_both_sides(
    ws: Workspace, tmp_path: Path
) -> None:
    remote = str(tmp_path / "remote")
    other = _other_workspace(tmp_path)
    # Side A: churn@1 promoted to champion; a monitoring run.
    assert _model(ws, "churn", b"model A") == 1
    registry.promote(ws, "churn", 1, "champion", "A's pick")
    _history(ws, "monitor-a", "ok")
    # Side B: fraud@1, and a *different* churn@1 (the conflict); its own monitoring run.
    assert _model(other, "fraud", b"fraud B") == 1
    assert _model(other, "churn", b"model B, other bytes") == 1
    _history(other, "monitor-b", "drift")
    b_before, _ = read_log(other.registry_log)

    assert push_runs(ws, remote).log_entries == 3
    got = pull_runs(other, remote)
    b_after, _ = read_log(other.registry_log)
    assert b_after == b_before  # A's churn@1 and its alias event were kept out, nothing lost
    assert any("churn@1" in c and "kept out" in c for c in got.conflicts)
    assert registry.resolve(other, "churn@1")["digest"] != registry.resolve(ws, "churn@1")["digest"]
    runs_seen = [e["run_id"] for e in read_log(other.monitoring_log)[0]]
    assert runs_seen == ["monitor-b", "monitor-a"]
    assert pull_runs(other, remote).log_entries == 0  # pulling twice is a no-op
    assert read_log(other.registry_log)[0] == b_after

    # B pushes; A pulls B's fraud model and history; A's own churn@1 and champion stay.
    assert push_runs(other, remote).log_entries == 3  # B's two models and its history
    back = pull_runs(ws, remote)
    assert back.log_entries == 2 and any("churn@1" in c for c in back.conflicts)
    assert registry.resolve(ws, "fraud@1")["version"] == 1
    assert (
        registry.resolve(ws, "churn@champion")["digest"]
        == registry.resolve(ws, "churn@1")["digest"]
    )
    assert [e["run_id"] for e in read_log(ws.monitoring_log)[0]] == ["monitor-a", "monitor-b"]
    # The index is a cache of the log: rebuilt, it holds both sides.
    assert registry.rebuild(ws) == len(read_log(ws.registry_log)[0])
    names = {v["name"] for v in registry.list_versions(ws)}
    assert names == {"churn", "fraud"}


def test_bad_input_is_one_line(ws: Workspace, tmp_path: Path) -> None:
    r = nbtrail(ws.root, "runs", "push", "nosuch-run", "--remote", str(tmp_path / "r"))
    assert r.returncode == 9
    assert r.stderr.strip().splitlines() == [
        "nbtrail: error: no run 'nosuch-run' (see `nbtrail runs`)"
    ]
    r = nbtrail(ws.root, "runs", "pull")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "no remote given" in r.stderr and "--remote URL" in r.stderr
    (tmp_path / "r").mkdir()
    r = nbtrail(ws.root, "runs", "pull", "gone-1", "--remote", str(tmp_path / "r"))
    assert r.returncode == 9 and "has no run 'gone-1'" in r.stderr
    listing = nbtrail(ws.root, "runs")  # without an action, `runs` still lists
    assert listing.returncode == 0 and "no runs match" in listing.stdout


def test_a_hostile_manifest_is_refused(ws: Workspace, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    (remote / "runs").mkdir(parents=True)
    body = {
        "format": "nbtrail-run/1",
        "run_id": "x-1",
        "stage": "x",
        "status": "completed",
        "files": {"workspace/runs/x-1/record.json": "0" * 64, "../evil": "0" * 64},
    }
    (remote / "runs" / "x-1.json").write_text(json.dumps(body))
    with pytest.raises(ValueError, match="refusing the path '../evil'"):
        pull_runs(ws, str(remote))
    assert not (ws.root.parent / "evil").exists()
