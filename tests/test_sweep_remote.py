"""A sweep whose workers share no disk with the client (`nbtrail sweep SPEC --remote URL`): a
`dask scheduler` and two `dask worker` processes started here on 127.0.0.1, each in its own
copy of the project (one named by $NBTRAIL_WORKER_ROOT, one by its working directory), the
client in a third. The state travels through a folder remote, then, for the sweep run again,
through moto's S3 server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from _project import make_project, nbtrail
from test_sweep_dask import CHEAP, DASK, _spawn, _spec, _stop, _wait_for_workers

from nbtrail.core.workspace import Workspace
from nbtrail.data.remote import Remote
from nbtrail.pipeline.sweep import MemberTask
from nbtrail.pipeline.sweep.remote_hooks import WORKER_ROOT_ENV, RemoteOnly
from nbtrail.runs import index


@pytest.fixture
def own_folders(tmp_path: Path, s3_remote: Remote):
    """The scheduler's address and the two workers' project folders, once all are up (after
    ``s3_remote``, so the workers inherit its credentials)."""
    sched_file = tmp_path / "scheduler.json"
    scheduler = [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
    procs = [
        _spawn(
            [*scheduler, "--scheduler-file", str(sched_file)],
            tmp_path / "scheduler.log",
            cwd=tmp_path,
            env={},
        )
    ]
    roots = [make_project(tmp_path / f"worker{i}") for i in range(2)]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(sched_file.read_text())["address"]
        for i, root in enumerate(roots):
            worker = [str(DASK), "worker", "--scheduler-file", str(sched_file), "--nthreads", "1"]
            worker += ["--no-dashboard", "--host", "127.0.0.1"]
            worker += ["--local-directory", str(tmp_path / f"dask{i}")]
            procs.append(
                _spawn(
                    worker,
                    tmp_path / f"worker{i}.log",
                    cwd=root if i else tmp_path,  # worker 1: its cwd; worker 0: the variable
                    env={} if i else {WORKER_ROOT_ENV: str(root)},
                )
            )
        _wait_for_workers(address, 2)
        yield address, roots
    finally:
        _stop(procs)


def _sweep(root: Path, spec: Path, *args: str) -> dict:
    out = nbtrail(root, "sweep", str(spec), *args, "--json", timeout=600)
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-3000:])
    return json.loads(out.stdout)


def _folders(root: Path) -> list[str]:
    runs = root / "workspace" / "runs"
    return sorted(p.name for p in runs.iterdir()) if runs.is_dir() else []


@pytest.mark.slow
def test_workers_in_their_own_folders_share_runs_through_the_remote(
    tmp_path: Path, own_folders, s3_remote: Remote
) -> None:
    address, workers = own_folders
    client = make_project(tmp_path / "client")
    ws = Workspace(client)
    grid = _spec(client, "grid", {"train.max_depth": [2, 3], "train.learning_rate": [0.05, 0.1]})
    folder = tmp_path / "remote"
    rec = _sweep(client, grid, "--scheduler", address, "--remote", str(folder))
    assert rec["status"] == "completed" and len(rec["members"]) == 4
    assert all(m["status"] == "completed" for m in rec["members"]), rec["members"]
    assert rec["executor"]["mode"] == "remote-only"
    assert rec["executor"]["remote"] == str(folder)

    # every run was executed in a worker's folder and reached the client byte for byte;
    # the client started no kernel
    used = {*rec["prefix"].values(), *(r for m in rec["members"] for r in m["runs"].values())}
    assert len(used) == 1 + 4 * 2  # data once, train and evaluate per member
    assert set(_folders(client)) == used
    for run_id in used:
        mine = (client / "workspace" / "runs" / run_id / "record.json").read_bytes()
        theirs = [w / "workspace" / "runs" / run_id / "record.json" for w in workers]
        assert mine in [t.read_bytes() for t in theirs if t.is_file()], run_id
    assert not list((client / "workspace" / "tmp" / "kernels").glob("*"))
    assert all("data" not in m["executed"] for m in rec["members"])

    # every member's runs are in the client's index under the sweep's id; the best is marked
    tagged = {r.run_id for r in index.query_runs(ws, sweep=rec["sweep_id"], limit=None)}
    for m in rec["members"]:
        assert {m["runs"]["train"], m["runs"]["evaluate"]} <= tagged
        sweep_tag = index.get_run(ws, m["runs"]["evaluate"])["extra"]["sweep"]
        assert sweep_tag == {"id": rec["sweep_id"], "member": m["member"], "role": "member"}
    best = max(rec["members"], key=lambda m: (m["metric"], -m["member"]))
    assert rec["best"] == best["member"]
    shown = nbtrail(client, "sweep", "show", rec["sweep_id"])
    row = next(line for line in shown.stdout.splitlines() if line.startswith("*"))
    assert row.split()[1] == str(best["member"])

    # run again through an empty S3 bucket: the client pushes what the members reuse before
    # fanning out, the workers pull it, and nothing executes anywhere
    before = _folders(client)
    endpoint = s3_remote.options["endpoint_url"]
    again = _sweep(
        client, grid, "--scheduler", address, "--remote", s3_remote.url, "--endpoint-url", endpoint
    )
    assert [m["executed"] for m in again["members"]] == [[]] * 4
    runs_of = lambda r: {m["member"]: m["runs"] for m in r["members"]}  # noqa: E731
    assert runs_of(again) == runs_of(rec)  # the same runs, whichever worker reused them
    assert again["prefix"] == rec["prefix"] and again["best"] == rec["best"]
    assert _folders(client) == before
    for w in workers:  # a worker may have pulled the other's runs, but made no new one
        assert set(_folders(w)) <= used
    fs, root = s3_remote.filesystem()
    assert {p.rsplit("/", 1)[-1] for p in fs.find(f"{root}/runs")} == {f"{r}.json" for r in used}


def test_remote_needs_a_scheduler_and_a_worker_needs_a_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_project(tmp_path / "client")
    spec = _spec(client, "one", {"train.max_depth": [2]})
    r = nbtrail(client, "sweep", str(spec), "--remote", str(tmp_path / "remote"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "--remote needs --scheduler" in r.stderr
    assert not (client / "workspace" / "sweeps").exists()  # refused before any worker started

    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(WORKER_ROOT_ENV, str(empty))
    task = MemberTask(str(client), "s-1", 1, dict(CHEAP), ("data",), "spec")
    with pytest.raises(
        FileNotFoundError, match=f"no project checkout at {empty}.*{WORKER_ROOT_ENV}"
    ):
        RemoteOnly(Remote(str(tmp_path / "remote"))).prepare(task)
    monkeypatch.delenv(WORKER_ROOT_ENV)
    monkeypatch.chdir(client)  # without the variable: the worker's current directory
    assert RemoteOnly(Remote(str(tmp_path / "remote"))).prepare(task).root == client
