"""A sweep on a real Dask cluster: a `dask scheduler` and two `dask worker` processes started
here on 127.0.0.1, sharing the project's folder (the shared-filesystem mode).

One test, in order: a 4-member grid over `train.*` (every member's runs in the index, the best
marked, `data` run once), the same sweep again (nothing executes: all cached), then a sweep
whose worker is SIGKILLed mid-member (the sweep completes, the index and run folders agree).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from _project import make_project, nbtrail, records

from nbtrail.core.workspace import Workspace
from nbtrail.runs import index
from nbtrail.runs.records import effective_status

DASK = Path(sys.executable).parent / "dask"
CHEAP = {  # members stay ordinary runs; these only make each one faster
    "train.cv_folds": 2,
    "evaluate.bootstrap": {"n_boot": 200, "level": 0.95, "seed": 0},
    "evaluate.ab_options": {"min_improvement": 0.0, "max_degradation": {}, "n_boot": 200},
    "evaluate.model_name": "sweep_test",
}


def _spawn(
    args: list[str], log: Path, *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """A scheduler or worker in its own session, without the caller's ``NBTRAIL_*``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("NBTRAIL_")}
    return subprocess.Popen(
        args,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env={**base, **(env or {})},
        start_new_session=True,
    )


def _wait_for_workers(address: str, n: int) -> None:
    from distributed import Client

    with Client(address, timeout="30s") as c:
        c.wait_for_workers(n, timeout=60)


def _stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM every process group, SIGKILL what is still there after 20 s."""
    for p in reversed(procs):
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


@pytest.fixture
def cluster(tmp_path):
    """The scheduler's address, once it and two single-thread workers are up."""
    sched_file = tmp_path / "scheduler.json"
    procs = [
        _spawn(
            [
                str(DASK),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(sched_file),
            ],
            tmp_path / "scheduler.log",
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(sched_file.read_text())["address"]
        for i in range(2):
            procs.append(
                _spawn(
                    [
                        str(DASK),
                        "worker",
                        "--scheduler-file",
                        str(sched_file),
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--local-directory",
                        str(tmp_path / f"w{i}"),
                        "--host",
                        "127.0.0.1",
                    ],
                    tmp_path / f"worker{i}.log",
                )
            )
        _wait_for_workers(address, 2)
        yield address
    finally:
        _stop(procs)


def _spec(root: Path, name: str, space: dict) -> Path:
    path = root / "params" / "sweeps" / f"{name}.yaml"
    spec = {
        "kind": "grid",
        "metric": "evaluate.roc_auc",
        "direction": "maximize",
        "space": space,
        "params": CHEAP,
        "budget": {"max_members": 4},
    }
    path.write_text(yaml.safe_dump(spec))
    return path


def _sweep(root: Path, spec: Path, address: str) -> tuple[dict, str]:
    out = nbtrail(root, "sweep", str(spec), "--scheduler", address, "--json", timeout=900)
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-3000:])
    return json.loads(out.stdout), out.stderr


def _agree(ws: Workspace) -> dict[str, str]:
    """The index (as queried) and the run folders hold the same runs with the same status."""
    on_disk = {r["run_id"]: effective_status(r) for r in records(ws.root)}
    indexed = {r.run_id: r.status for r in index.query_runs(ws, limit=None)}
    assert indexed == on_disk
    return on_disk


@pytest.mark.slow
def test_a_sweep_on_a_real_cluster_then_again_then_with_a_worker_killed(tmp_path, cluster):
    root = make_project(tmp_path / "project")
    ws = Workspace(root)
    grid = _spec(root, "grid", {"train.n_estimators": [30, 60], "train.max_depth": [2, 3]})
    rec, log = _sweep(root, grid, cluster)
    assert rec["status"] == "completed" and len(rec["members"]) == 4
    assert all(m["status"] == "completed" for m in rec["members"]), rec["members"]
    assert {m["worker"] for m in rec["members"]} != {None}
    # `data` ran once, before the members, and every member reused it
    data_runs = [r for r in records(root) if r["stage"] == "data"]
    assert len(data_runs) == 1 and rec["prefix"] == {"data": data_runs[0]["run_id"]}
    assert all(m["runs"]["data"] == data_runs[0]["run_id"] for m in rec["members"])
    assert all("data" not in m["executed"] for m in rec["members"])
    # every member's runs are in the index under the sweep's id, tagged in their records
    tagged = {r.run_id for r in index.query_runs(ws, sweep=rec["sweep_id"], limit=None)}
    for m in rec["members"]:
        assert {m["runs"]["train"], m["runs"]["evaluate"]} <= tagged
        assert index.get_run(ws, m["runs"]["evaluate"])["extra"]["sweep"] == {
            "id": rec["sweep_id"],
            "member": m["member"],
            "role": "member",
        }
    best = max(rec["members"], key=lambda m: (m["metric"], -m["member"]))
    assert rec["best"] == best["member"]
    shown = nbtrail(root, "sweep", "show", rec["sweep_id"][:-2])
    row = next(line for line in shown.stdout.splitlines() if line.startswith("*"))
    assert row.split()[1] == str(best["member"])
    listed = nbtrail(root, "runs", "--sweep", "latest", "--limit", "0")
    assert listed.returncode == 0 and listed.stdout.count("evaluate-") == 4
    _agree(ws)

    # the same sweep again executes nothing: every member's stages are reused
    before = sorted(p.name for p in ws.runs_dir.iterdir())
    again, _ = _sweep(root, grid, cluster)
    assert sorted(p.name for p in ws.runs_dir.iterdir()) == before
    assert [m["executed"] for m in again["members"]] == [[]] * 4
    assert again["best"] == rec["best"]

    # a worker SIGKILLed in the middle of a member: retried elsewhere, the sweep completes
    kill = _spec(root, "kill", {"train.n_estimators": [40], "train.max_depth": [2, 3]})
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBTRAIL_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nbtrail",
            "-C",
            str(root),
            "sweep",
            str(kill),
            "--scheduler",
            cluster,
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    victim = None
    deadline = time.monotonic() + 300
    while victim is None and time.monotonic() < deadline and proc.poll() is None:
        for r in records(root):
            sweep = r.get("extra", {}).get("sweep", {})
            if r["status"] == "running" and r["stage"] == "train" and sweep.get("member"):
                if sweep["id"] != rec["sweep_id"] and sweep["id"] != again["sweep_id"]:
                    victim = r
        time.sleep(0.2)
    assert victim is not None, "no member started"
    assert victim["pid"] != proc.pid  # the member runs on a worker, not in the client
    os.kill(victim["pid"], signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]
    killed = json.loads(stdout)
    assert len(killed["members"]) == 2
    for m in killed["members"]:
        assert m["status"] == "completed" or m["reason"], m
    assert any(m["status"] == "completed" for m in killed["members"])
    statuses = _agree(ws)
    assert statuses[victim["run_id"]] == "interrupted"
    in_sweep = {r.run_id for r in index.query_runs(ws, sweep=killed["sweep_id"], limit=None)}
    assert victim["run_id"] in in_sweep  # the lost attempt stays on the record
