"""Benchmark: `nbtrail runs push` / `runs pull` of one default pipeline's runs.

Runs the default pipeline once in a temporary copy of the project (or uses ``--project``), then,
for a folder remote and for moto's S3 server on 127.0.0.1: pushes every run (and its dataset
versions and logs), pulls them into a fresh copy, pulls again (a no-op) and runs the pipeline
there (every stage reused, no kernel). Each step is one whole CLI process, timed with its
wall clock; bytes are what the command reported and what the remote holds.

    .venv/bin/python bench/bench_runs_sync.py [--project DIR] [--keep]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from _project import make_project  # noqa: E402
from _summary import Summary, verdict  # noqa: E402


def _cli(root: Path, *args: str, env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "nbtrail", "-C", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {out.stderr[-2000:]}")
    return seconds, out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


def _moto(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                return proc, url
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("moto_server did not start") from None
            time.sleep(0.1)


def _bytes(line: str) -> str:
    m = re.search(r"\(([\d.]+ [KMG]?B)\)", line)
    return m.group(1) if m else "?"


def _round(a: Path, tmp: Path, label: str, remote: list[str], env: dict[str, str]) -> list[str]:
    b = make_project(tmp / f"b-{label}")
    rows = []
    for what, root, args in (
        ("push", a, ["runs", "push", *remote]),
        ("push again (no-op)", a, ["runs", "push", *remote]),
        ("pull into a fresh copy", b, ["runs", "pull", *remote]),
        ("pull again (no-op)", b, ["runs", "pull", *remote]),
        ("run there (all reused)", b, ["run"]),
    ):
        seconds, line = _cli(root, *args, env=env)
        moved = _bytes(line) if what.startswith(("push", "pull")) else "-"
        rows.append(f"| {label} | {what} | {seconds:.2f} | {moved} |")
        print(rows[-1], "  ", line[:160], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", type=Path, help="a project whose pipeline already ran")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--summary", help="write the rows for make_bench here")
    args = ap.parse_args()
    summary = Summary(args.summary)
    tmp = Path(tempfile.mkdtemp(prefix="nbtrail-bench-sync-"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("NBTRAIL_ROOT", None)
    try:
        a = args.project or make_project(tmp / "a")
        if args.project is None:
            seconds, _ = _cli(a, "run", env=env)
            print(f"default pipeline in {seconds:.1f} s", flush=True)
        n_runs = len(list((a / "workspace" / "runs").glob("*/record.json")))
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()}")
        print(f"{n_runs} runs; workspace/runs {_du(a / 'workspace' / 'runs')}")
        print("| remote | step | seconds | bytes moved |\n| --- | --- | --- | --- |")
        rows = _round(a, tmp, "folder", ["--remote", str(tmp / "remote")], env)
        s3env = {
            **env,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        proc, endpoint = _moto(s3env)
        try:
            bucket = f"bench-{uuid.uuid4().hex[:8]}"
            urllib.request.urlopen(urllib.request.Request(f"{endpoint}/{bucket}", method="PUT"))
            remote = ["--remote", f"s3://{bucket}/team", "--endpoint-url", endpoint]
            rows += _round(a, tmp, "moto S3", remote, s3env)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        print(f"load after: {os.getloadavg()}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    fig = {}
    for row in rows:
        _, label, what, seconds, moved, _ = (c.strip() for c in row.split("|"))
        fig[(label, what)] = (float(seconds), moved)

    def part(label: str) -> str:
        f = {w: v for (lab, w), v in fig.items() if lab == label}
        return (
            f"push {f['push'][0]:.2f} s ({f['push'][1]}), pull into a fresh copy"
            f" {f['pull into a fresh copy'][0]:.2f} s, pull again {f['pull again (no-op)'][0]:.2f} s"
        )

    summary.add(
        f"`runs push` / `runs pull`, one default pipeline ({n_runs} runs)",
        "(none; #14)",
        f"folder: {part('folder')}; moto S3: {part('moto S3')}; load"
        f" {summary.load_start:.1f}-{os.getloadavg()[0]:.1f}",
        verdict(None),
    )
    summary.write()


def _du(path: Path) -> str:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return f"{total / 1024 / 1024:.1f} MB"


if __name__ == "__main__":
    main()
