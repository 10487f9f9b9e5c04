"""The overhead per member of remote-only workers (`nbtrail sweep SPEC --remote URL`) against
the shared filesystem, side by side in one run on one cluster (issue 14).

Run: .venv/bin/python bench/bench_sweep_remote.py [--keep]

One `dask scheduler` and two single-thread `dask worker` processes are started on 127.0.0.1,
each worker in its own fresh copy of the project ($NBTRAIL_WORKER_ROOT). Two fresh client
projects then run the same 4-member grid over `train.*` on the default pipeline: the first
with the workers seeing its workspace at the same path (shared filesystem), the second with
`--remote` (a folder remote: the workers pull what they reuse and push what they write, the
client pulls it back). Each sweep runs twice: fresh (the members execute) and again (every
stage reused: there the sync is nearly all the work). Processes on one machine are not a
cluster: the remote is a local folder, so no network time is in these figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _summary import Summary, verdict

REPO = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).parent / "dask"
SPEC = {
    "kind": "grid",
    "metric": "evaluate.roc_auc",
    "direction": "maximize",
    "space": {"train.n_estimators": [50, 100], "train.max_depth": [2, 3]},
    "params": {"evaluate.model_name": "bench_sweep_remote"},
    "budget": {"max_members": 4},
}


def spec(members: int) -> dict:
    """The 4-point grid, or for fewer ``members`` (make_bench runs 2) its first points."""
    if members >= 4:
        return SPEC
    space = {"train.n_estimators": [50], "train.max_depth": [2, 3][: max(1, members)]}
    return {**SPEC, "space": space, "budget": {"max_members": len(space["train.max_depth"])}}


def project(root: Path, members: int = 4) -> Path:
    for name in ("notebooks", "params", "examples"):
        shutil.copytree(REPO / name, root / name)
    (root / "workspace").mkdir()
    shutil.copyfile(REPO / "requirements.lock", root / "requirements.lock")
    (root / "params" / "sweeps" / "bench.json").write_text(json.dumps(spec(members)))
    return root


def _env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("NBTRAIL_")}, **extra}


def start_cluster(tmp: Path) -> tuple[str, list[subprocess.Popen]]:
    sched = tmp / "scheduler.json"
    args = [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
    log = (tmp / "scheduler.log").open("w")
    procs = [
        subprocess.Popen(
            [*args, "--scheduler-file", str(sched)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_env(),
            start_new_session=True,
        )
    ]
    while not sched.is_file():
        time.sleep(0.2)
    for i in range(2):
        root = project(tmp / f"worker{i}")
        log = (tmp / f"worker{i}.log").open("w")
        procs.append(
            subprocess.Popen(
                [str(DASK), "worker", "--scheduler-file", str(sched), "--nthreads", "1"]
                + [
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                    "--local-directory",
                    str(tmp / f"d{i}"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_env(NBTRAIL_WORKER_ROOT=str(root)),
                start_new_session=True,
            )
        )
    address = json.loads(sched.read_text())["address"]
    from distributed import Client

    with Client(address, timeout="30s") as c:
        c.wait_for_workers(2, timeout=60)
    return address, procs


def sweep(root: Path, *extra: str) -> dict:
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "nbtrail", "-C", str(root), "sweep", "params/sweeps/bench.json"]
        + ["--json", *extra],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=root,
    )
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    rec = json.loads(out.stdout)
    data_id = rec["prefix"]["data"]
    data = json.loads((root / "workspace" / "runs" / data_id / "record.json").read_text())
    members = rec["members"]
    return {
        "wall": wall,
        "data": data["duration_s"],  # the shared stage's own run (fresh: run by this sweep)
        "ok": sum(m["status"] == "completed" for m in members),
        "executed": sum(len(m["executed"]) for m in members),
        "member_s": sum(m["seconds"] for m in members) / len(members),
        "rec": rec,
    }


def sync_steps(tmp: Path, client: Path, rec: dict, repeats: int = 3) -> dict[str, float]:
    """The remote-only mode's own work for one member, timed step by step in this process
    (median of ``repeats``, each into a fresh remote and a fresh worker folder): the client's
    reuse probe, the worker's pull of the `data` run (a worker that has nothing yet), its push
    of the member's two runs, and the client's pull of them."""
    import statistics

    from nbtrail.core.workspace import Workspace
    from nbtrail.data.remote import Remote
    from nbtrail.pipeline.sweep.member import MemberTask
    from nbtrail.pipeline.sweep.remote_executor import RemoteExecutor
    from nbtrail.runs.sync import pull_inputs_for, pull_runs, push_run_folder, push_runs

    ws = Workspace(client)
    m = next(m for m in rec["members"] if m["status"] == "completed")
    data, train, evaluate = m["runs"]["data"], m["runs"]["train"], m["runs"]["evaluate"]
    times: dict[str, list[float]] = {}

    def timed(name: str, fn, *args, **kw) -> None:
        t0 = time.perf_counter()
        fn(*args, **kw)
        times.setdefault(name, []).append(time.perf_counter() - t0)

    def push_both(ws: Workspace, remote: Remote) -> None:
        for run_id in (train, evaluate):
            push_run_folder(ws, remote, run_id)

    values = {**SPEC["params"], **m["values"]}
    task = MemberTask(str(client), rec["sweep_id"], m["member"], values, tuple(rec["stages"]), "b")
    for i in range(repeats):
        remote = Remote(str(tmp / f"sync-remote{i}"))
        probe = RemoteExecutor(ws, None, remote)  # type: ignore[arg-type]  # the probe only
        timed("client: reuse probe (plan + fingerprints)", probe.reusable, task)
        push_runs(ws, remote, [data], logs=False)  # what the client pushed before fanning out
        worker = Workspace(project(tmp / f"sync-worker{i}"))
        timed("worker: pull the data run (prepare)", pull_inputs_for, worker, remote, [data])
        timed("worker: push train + evaluate (finish)", push_both, ws, remote)
        back = Workspace(project(tmp / f"sync-client{i}"))
        pull_runs(back, remote, [data], logs=False)
        timed(
            "client: pull train + evaluate", pull_runs, back, remote, [train, evaluate], logs=False
        )
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", action="store_true", help="keep the temporary projects")
    ap.add_argument("--remote-first", action="store_true", help="run the remote-only side first")
    ap.add_argument("--members", type=int, default=4, help="4 (the grid), or 2 for a quick run")
    ap.add_argument("--summary", help="write the rows for make_bench here")
    args = ap.parse_args()
    summary = Summary(args.summary)
    print(
        f"machine: nproc={os.cpu_count()} {platform.machine()} python {platform.python_version()}"
    )
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-remote-"))
    address, procs = start_cluster(tmp)
    try:
        shared_root = project(tmp / "shared", args.members)
        remote_root = project(tmp / "client", args.members)
        remote = ["--scheduler", address, "--remote", str(tmp / "remote")]
        sides = {
            "shared": lambda: [sweep(shared_root, "--scheduler", address) for _ in range(2)],
            "remote": lambda: [sweep(remote_root, *remote) for _ in range(2)],
        }
        order = ["remote", "shared"] if args.remote_first else ["shared", "remote"]
        print(f"order: {', '.join(order)}")
        got = {name: sides[name]() for name in order}
        shared, only = got["shared"], got["remote"]
        steps = sync_steps(tmp, remote_root, only[0]["rec"])
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    print("\n| 4 members, 2 workers | shared filesystem | remote-only (folder remote) |")
    print("| --- | ---: | ---: |")
    used = spec(args.members)["space"]
    n = len(used["train.n_estimators"]) * len(used["train.max_depth"])
    rows = {
        "fresh: members completed, stages executed": lambda r: f"{r[0]['ok']}, {r[0]['executed']}",
        "fresh: whole sweep, wall (s)": lambda r: f"{r[0]['wall']:.1f}",
        "fresh: members' phase, wall (s)": lambda r: f"{r[0]['wall'] - r[0]['data']:.1f}",
        "fresh: one member on its worker, mean (s)": lambda r: f"{r[0]['member_s']:.2f}",
        "again: members completed, stages executed": lambda r: f"{r[1]['ok']}, {r[1]['executed']}",
        "again: whole sweep, wall (s)": lambda r: f"{r[1]['wall']:.1f}",
        "again: one member on its worker, mean (s)": lambda r: f"{r[1]['member_s']:.2f}",
    }
    for name, fn in rows.items():
        print(f"| {name} | {fn(shared)} | {fn(only)} |")
    fresh = (only[0]["wall"] - only[0]["data"] - shared[0]["wall"] + shared[0]["data"]) / n
    again = (only[1]["wall"] - shared[1]["wall"]) / n
    print(
        f"\noverhead per member of remote-only (members' phase wall difference / {n} members, "
        f"2 at a time): fresh {fresh:+.2f} s, all cached {again:+.2f} s"
    )
    print("\n| remote-only, one member's sync work (median of 3, folder remote) | s |")
    print("| --- | ---: |")
    for name, sec in steps.items():
        print(f"| {name} | {sec:.3f} |")
    print(f"| total | {sum(steps.values()):.3f} |")
    for label, runs in (("shared", shared), ("remote", only)):
        for rec in (r["rec"] for r in runs):
            for m in rec["members"]:
                if m["status"] != "completed":
                    print(f"{label} member {m['member']} {m['status']}: {m['reason']}")
    print(f"best member: shared {shared[0]['rec']['best']}, remote-only {only[0]['rec']['best']}")
    summary.add(
        f"sweep, remote-only workers vs shared filesystem, {n} members, 2 workers",
        "the overhead per member of the remote-only mode (#14)",
        f"sync work per member {sum(steps.values()):.2f} s (step by step); wall difference per"
        f" member: fresh {fresh:+.2f} s, all cached {again:+.2f} s, against"
        f" {shared[0]['member_s']:.1f} s per member; load {summary.load_start:.1f}-"
        f"{os.getloadavg()[0]:.1f}",
        verdict(None),
    )
    summary.write()


if __name__ == "__main__":
    main()
