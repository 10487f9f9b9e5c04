"""Before/after on one machine in the same minutes: the 4-notebook pipeline run by nbtrail at
another revision (its ``lib/`` on ``PYTHONPATH``, kernels included) and by this checkout,
alternating, then their no-ops. A tool for a change's author, not one of ``make bench``'s.

    git archive REV lib | tar -x -C /tmp/base
    .venv/bin/python bench/compare_revisions.py --base-lib /tmp/base/lib [--repeats 3]

Per side: ``nbtrail run`` on a fresh copy of ``bench/pipeline4/nbtrail``, then ``--repeats``
times ``run --force`` (sides alternating, the order flipped each round), then ``--repeats``
+ 1 plain ``run`` (the no-op: with this branch the first plans and saves its answer, the next
replay it). Printed: whole-process wall time, time in code cells (papermill's per-cell
durations) and their ratio per full run; the medians; the load average.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_pipeline import FIXTURES, MAIN_VENV, Bench, stage_times

NBTRAIL = str(MAIN_VENV / "bin" / "nbtrail")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-lib", type=Path, required=True, help="the other revision's lib/")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="nbtrail-compare-"))
    bench = Bench(root, Path("/nonexistent"), Path("/nonexistent"))
    sides: dict[str, tuple[Path, dict[str, str]]] = {}
    for name, lib in (("before", args.base_lib), ("after", None)):
        proj = root / name
        shutil.copytree(FIXTURES / "nbtrail", proj)
        env = dict(bench.env)
        if lib is not None:
            env["PYTHONPATH"] = str(lib.resolve())
        sides[name] = (proj, env)
    res: dict[str, dict[str, list[float]]] = {
        k: {"full": [], "cells": [], "ratio": [], "noop": [], "kernels": []} for k in sides
    }

    def run(name: str, *extra: str) -> tuple[float, int]:
        proj, env = sides[name]
        k0, t0 = bench.kernel_starts(), time.perf_counter()
        p = subprocess.run([NBTRAIL, "-C", str(proj), "run", *extra], env=env, capture_output=True)
        if p.returncode != 0:
            raise SystemExit(p.stderr.decode()[-2000:])
        return time.perf_counter() - t0, bench.kernel_starts() - k0

    try:
        load0 = os.getloadavg()
        for name in sides:
            run(name)
        for i in range(args.repeats):
            for name in ("before", "after") if i % 2 == 0 else ("after", "before"):
                wall, _ = run(name, "--force")
                cells = sum(v["cells_s"] for v in stage_times(sides[name][0]).values())
                for key, value in (("full", wall), ("cells", cells), ("ratio", wall / cells)):
                    res[name][key].append(value)
                print(
                    f"{name:<6} full {wall:6.2f} s, cells {cells:5.2f} s, ratio {wall / cells:4.2f}"
                    f"  load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
        for _ in range(args.repeats + 1):
            for name in sides:
                wall, kernels = run(name)
                res[name]["noop"].append(wall)
                res[name]["kernels"].append(kernels)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for name, r in res.items():
        med = {k: round(statistics.median(v), 3) for k, v in r.items() if v}
        print(f"{name}: medians {med}; no-op samples {[round(x, 3) for x in r['noop']]}")
    print(f"load average before {load0}, after {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
