"""Start-up of the CLI: the no-op `nbtrail run`, `nbtrail runs` and `nbtrail lineage` as whole
processes, beside the interpreter's own floor, and where the time goes (`-X importtime`).

    .venv/bin/python bench/bench_startup.py [--repeat 15] [--keep] [--summary PATH]

A temporary project holds two tiny stages (``a`` -> ``b``: a parameter, a metric, no
imports beyond nbtrail, so that the one real run costs two kernel starts and little else;
``bench_pipeline.py`` times the no-op of its 4 real notebooks too), run once for real. Then,
each a fresh process, median (min) of ``--repeat``:

* ``python -I -S -c pass`` and ``python -c pass`` (the venv's interpreter: the floor);
* the no-op ``nbtrail -C P run`` *planned* (``params/pipeline.yaml`` touched before each
  call, so its saved answer is not trusted and it plans, fingerprints and asks the index) and
  *replayed* (nothing changed since the last no-op: the answer is replayed after a ``stat``
  of every file it depends on, without importing the planner);
* ``nbtrail -C P runs`` and ``nbtrail -C P lineage RUN`` on this small index (the 10,000-run
  figures are ``bench_index.py``'s; the start-up measured here is the same there).

Kernel starts are counted by a wrapping kernelspec (as ``bench_pipeline.py`` does): every
no-op must start none. ``-X importtime`` of one call of each splits the time into the
interpreter's start, the CLI (``nbtrail.cli``, argparse, the verb's module) and the library.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _summary import Summary, verdict
from bench_pipeline import MAIN_VENV, Bench

NBTRAIL = str(MAIN_VENV / "bin" / "nbtrail")
PYTHON = str(MAIN_VENV / "bin" / "python")
TARGET_NOOP = 0.1
PIPELINE = """version: 1
stages:
  a:
    notebook: notebooks/a.ipynb
  b:
    notebook: notebooks/b.ipynb
    needs: [a]
"""


def notebook(stage: str) -> str:
    def cell(source: str, tags: list[str] | None = None) -> dict:
        meta = {"tags": tags} if tags else {}
        return {"cell_type": "code", "metadata": meta, "source": source, "outputs": [],
                "execution_count": None}  # fmt: skip

    body = f'import nbtrail\nrun = nbtrail.start("{stage}", globals())\n'
    body += 'run.log_metrics({"x": x})\nrun.finish()'
    return json.dumps(
        {
            "cells": [cell("x = 1", ["parameters"]), cell(body)],
            "metadata": {
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


def make_project(proj: Path) -> None:
    (proj / "params").mkdir(parents=True)
    (proj / "notebooks").mkdir()
    (proj / "workspace").mkdir()
    (proj / "params" / "pipeline.yaml").write_text(PIPELINE)
    for stage in ("a", "b"):
        (proj / "notebooks" / f"{stage}.ipynb").write_text(notebook(stage))


def timed(cmd: list[str], env: dict[str, str], repeat: int, before=None) -> list[float]:
    out = []
    for _ in range(repeat):
        if before is not None:
            before()
        t0 = time.perf_counter()
        p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        out.append(time.perf_counter() - t0)
        if p.returncode != 0:
            raise SystemExit(f"bench: {' '.join(cmd)} failed: {p.stderr.decode()[-500:]}")
    return out


def importtime(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """Seconds of imports by group, from one ``-X importtime`` run of ``cmd`` (a python -m)."""
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    groups = {"interpreter (site, encodings)": 0.0, "CLI": 0.0, "library": 0.0, "other": 0.0}
    for line in p.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if not m or m.group(3):  # top-level imports only: their cumulative time
            continue
        name, us = m.group(4), int(m.group(2))
        if name in ("site", "encodings", "encodings.utf_8", "_signal", "io", "zipimport") or (
            name.startswith("_frozen")
        ):
            groups["interpreter (site, encodings)"] += us / 1e6
        elif name in ("nbtrail.cli", "nbtrail.commands.options") or re.match(
            r"nbtrail\.commands\.", name
        ):
            groups["CLI"] += us / 1e6
        elif name.startswith("nbtrail"):
            groups["library"] += us / 1e6
        else:
            groups["other"] += us / 1e6
    return groups


def ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:,.0f} ms (min {min(xs) * 1000:,.0f})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--summary", type=Path, help="write the rows for make_bench here")
    args = ap.parse_args(argv)
    summary = Summary(args.summary)
    root = Path(tempfile.mkdtemp(prefix="nbtrail-bench-startup-"))
    try:
        bench = Bench(root, Path("/nonexistent"), Path("/nonexistent"))
        env = bench.env
        proj = root / "project"
        make_project(proj)
        subprocess.run([NBTRAIL, "-C", str(proj), "run"], env=env, check=True, capture_output=True)
        print(f"bench: project in {proj}, pipeline ran once; load {os.getloadavg()[0]:.2f}")
        pipeline_file = proj / "params" / "pipeline.yaml"

        def touch() -> None:
            pipeline_file.write_text(pipeline_file.read_text())

        def load() -> str:
            return f"load {summary.load_start:.1f}-{os.getloadavg()[0]:.1f}"

        # Each row is written as soon as it is measured: make_bench may stop this script.
        floor_is = timed([PYTHON, "-I", "-S", "-c", "pass"], env, args.repeat)
        floor = timed([PYTHON, "-c", "pass"], env, args.repeat)
        print(f"python -I -S -c pass   {ms(floor_is)}")
        print(f"python -c pass         {ms(floor)}")
        k0 = bench.kernel_starts()
        run = [NBTRAIL, "-C", str(proj), "run"]
        timed(run, env, 1)  # plans (the first run's files are fresh) and saves its answer
        time.sleep(0.2)
        timed(run, env, 1)
        replayed = timed(run, env, args.repeat)
        kernels = bench.kernel_starts() - k0
        print(f"no-op run, replayed    {ms(replayed)}   kernels started by no-ops: {kernels}")
        ratio = statistics.median(replayed) / statistics.median(floor)
        summary.add(
            "no-op `nbtrail run` (2 stages), answer replayed",
            "<= 0.1 s whole process, 0 kernels (#16)",
            f"**{ms(replayed)}** = {ratio:.1f}x the floor `python -c pass` {ms(floor)}"
            f" (`-I -S` {ms(floor_is)}); {kernels} kernels; {load()}",
            verdict(statistics.median(replayed) <= TARGET_NOOP and kernels == 0),
        )
        summary.write()
        planned = timed(run, env, args.repeat, before=touch)
        print(f"no-op run, planned     {ms(planned)}")
        summary.add(
            "no-op `nbtrail run`, planned (an input touched)",
            "(the first no-op after a change; #16)",
            f"{ms(planned)} = {statistics.median(planned) / statistics.median(floor):.1f}x the"
            f" floor; {load()}",
            verdict(None),
        )
        summary.write()
        last_b = sorted(p.name for p in (proj / "workspace" / "runs").glob("b-*"))[-1]
        runs = timed([NBTRAIL, "-C", str(proj), "runs"], env, args.repeat)
        lineage = timed([NBTRAIL, "-C", str(proj), "lineage", last_b], env, args.repeat)
        print(f"runs (small index)     {ms(runs)}")
        print(f"lineage                {ms(lineage)}")
        imp = {
            "no-op replayed": importtime(
                [PYTHON, "-X", "importtime", "-m", "nbtrail", *run[1:]], env
            ),
            "runs": importtime(
                [PYTHON, "-X", "importtime", "-m", "nbtrail", "-C", str(proj), "runs"], env
            ),
        }
        for what, groups in imp.items():
            parts = ", ".join(f"{k} {v * 1000:,.0f} ms" for k, v in groups.items())
            print(f"imports of {what}: {parts}")
        i = imp["runs"]
        summary.add(
            "`nbtrail runs` / `lineage` start-up (small index)",
            "<= 100 ms whole process over 10,000 runs (#16; the index part: bench_index.py)",
            f"runs {ms(runs)}, lineage {ms(lineage)}; imports of `runs`: CLI"
            f" {i['CLI'] * 1000:,.0f} ms, library {i['library'] * 1000:,.0f} ms, interpreter"
            f" {i['interpreter (site, encodings)'] * 1000:,.0f} ms; {load()}",
            verdict(statistics.median(runs) <= 0.1 and statistics.median(lineage) <= 0.1),
        )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    summary.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
