"""An 8-member sweep over `train.*` on the default pipeline: serial versus a Dask LocalCluster
of 2 worker processes, side by side in one run (issue 14).

Run: .venv/bin/python bench/bench_sweep.py [--workers 2] [--keep]

Each side gets its own fresh copy of the project (nothing cached), runs the same grid
(`train.n_estimators` x `train.max_depth` x `train.learning_rate`, 2 x 2 x 2) through
`nbtrail sweep`, and is timed from the command's start to its end; the shared `data` stage
(run once, before the members) is timed from its record and shown apart. Both sides run the
members' kernels in separate processes; only the Dask side runs two members at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _summary import Summary, verdict

REPO = Path(__file__).resolve().parents[1]
SPEC = {
    "kind": "grid",
    "metric": "evaluate.roc_auc",
    "direction": "maximize",
    "space": {
        "train.n_estimators": [50, 100],
        "train.max_depth": [2, 3],
        "train.learning_rate": [0.05, 0.1],
    },
    "params": {"evaluate.model_name": "bench_sweep"},
    "budget": {"max_members": 8},
}


def spec(members: int) -> dict:
    """The grid, or for fewer than 8 ``members`` (make_bench runs 2) its first 1-2 points."""
    if members >= 8:
        return SPEC
    space = {
        "train.n_estimators": [50],
        "train.max_depth": [2, 3][: max(1, members)],
        "train.learning_rate": [0.1],
    }
    return {**SPEC, "space": space, "budget": {"max_members": len(space["train.max_depth"])}}


def project(root: Path, members: int = 8) -> Path:
    for name in ("notebooks", "params", "examples"):
        shutil.copytree(REPO / name, root / name)
    (root / "workspace").mkdir()
    shutil.copyfile(REPO / "requirements.lock", root / "requirements.lock")
    (root / "params" / "sweeps" / "bench.json").write_text(json.dumps(spec(members)))
    return root


def side(root: Path, *extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBTRAIL_")}
    t0 = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbtrail",
            "-C",
            str(root),
            "sweep",
            "params/sweeps/bench.json",
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
    )
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    rec = json.loads(out.stdout)
    data = json.loads(
        (root / "workspace" / "runs" / rec["prefix"]["data"] / "record.json").read_text()
    )
    ok = sum(m["status"] == "completed" for m in rec["members"])
    ended = len(rec["members"])  # a failed member ran too: throughput counts every member
    return {"wall": wall, "data": data["duration_s"], "members": ok, "ended": ended, "rec": rec}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the temporary projects")
    ap.add_argument("--members", type=int, default=8, help="8 (the grid), or 2 for a quick run")
    ap.add_argument("--summary", help="write the rows for make_bench here")
    args = ap.parse_args()
    summary = Summary(args.summary)
    print(
        f"machine: nproc={os.cpu_count()} {platform.machine()} python {platform.python_version()}"
    )
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        serial = side(project(tmp / "serial", args.members), "--serial")
        dask = side(project(tmp / "dask", args.members), "--workers", str(args.workers))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    print(f"\n| | serial | LocalCluster, {args.workers} workers |")
    print("| --- | ---: | ---: |")
    rows = {
        "members completed": lambda s: f"{s['members']}",
        "whole sweep, wall (s)": lambda s: f"{s['wall']:.1f}",
        "shared data stage, once (s)": lambda s: f"{s['data']:.1f}",
        "members' phase (s)": lambda s: f"{s['wall'] - s['data']:.1f}",
        "members ended per minute": lambda s: f"{60 * s['ended'] / (s['wall'] - s['data']):.2f}",
    }
    for name, fn in rows.items():
        print(f"| {name} | {fn(serial)} | {fn(dask)} |")
    rate = [s["ended"] / (s["wall"] - s["data"]) for s in (serial, dask)]
    speed = rate[1] / rate[0]
    print(
        f"\nthroughput, members' phase: {speed:.2f}x serial; whole sweep: "
        f"{serial['wall'] / dask['wall']:.2f}x"
    )
    for label, s in (("serial", serial), ("dask", dask)):
        for m in s["rec"]["members"]:
            if m["status"] != "completed":
                print(f"{label} member {m['member']} {m['status']}: {m['reason']}")
    best = [s["rec"]["best"] for s in (serial, dask)]
    print(f"best member: serial {best[0]}, dask {best[1]}")
    summary.add(
        f"sweep, {serial['ended']} members over `train.*`, serial vs LocalCluster of"
        f" {args.workers} workers",
        ">= 1.8x the throughput of serial with 2 workers (#14)",
        f"members' phase: **{speed:.2f}x** ({serial['wall'] - serial['data']:.1f} s serial vs"
        f" {dask['wall'] - dask['data']:.1f} s); load {summary.load_start:.1f}-"
        f"{os.getloadavg()[0]:.1f}",
        verdict(speed >= 1.8) + ("" if args.members >= 8 else " (2 members: bounded size)"),
    )
    summary.write()


if __name__ == "__main__":
    main()
