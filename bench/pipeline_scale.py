"""The whole nbtrail pipeline on N rows x 50 columns, beside a bare script doing the same work.

    .venv/bin/python bench/pipeline_scale.py --rows 100000 1000000 --repeats 2 1

For each N the benchmark writes a synthetic CSV (45 numeric columns, 5 categorical ones with
3-6 levels, a binary target ``label`` with a known signal, see :func:`generate`), then runs,
alternating (bare, pipeline, bare, pipeline, ...):

* **pipeline**: ``nbtrail -C PROJECT run -p data.source=FILE.csv -p data.target=label`` (plus
  the overrides in :data:`SYNTHETIC_PARAMS` and ``--param``), each time in a fresh temporary
  project made as ``tests/_project.py``'s ``make_project`` makes one (the repo's notebooks,
  params and requirements.lock copied, an empty workspace), never in the repo;
* **bare**: ``bench/pipeline_scale_bare.py``, one plain Python process doing the stages' work
  with the same parameter values (resolved once from the project before the runs).

Measured per run: wall time of the whole process; for the pipeline each stage's ``duration_s``
from its run record; peak memory sampled with psutil (pinned in requirements.lock) every
``--interval`` seconds over the process and all its descendants (the stage kernels, the export's
fresh-Python smoke test): the largest sum of RSS seen at one instant, and the largest single
process's ``VmHWM`` (its own exact peak, read from /proc/<pid>/status at each sample). The bare
run's metrics must equal the pipeline's (ROC AUC, CV score, ONNX parity gap): the benchmark
fails when they differ, because then the two did not do the same work.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _summary import Summary, verdict

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BARE = HERE / "pipeline_scale_bare.py"
STAGES = ("data", "train", "evaluate", "export", "monitor")
TARGET = "label"
N_NUMERIC, N_CATEGORICAL = 45, 5

# The evaluate stage's default slices and behavioural tests name the demo dataset's columns;
# these name the synthetic ones (set explicitly, so a change of defaults does not change the
# work measured): slices by a categorical column and by quartiles of the strongest feature; an
# invariance test on a pure-noise column, a directional test on the strongest feature.
SYNTHETIC_PARAMS = (
    "evaluate.slices={cat_0: category, num_00: 4}",
    "evaluate.behavioural={invariance: [{columns: [num_44], delta: 0.01, tolerance: 0.05}],"
    " directional: [{column: num_00, direction: increase, delta: 1.0}]}",
)


def generate(n: int, path: Path, seed: int = 0, categorical: str = "strings") -> dict[str, Any]:
    """``n`` rows: ``num_00..num_44`` (Gaussian, each with its own mean and scale), ``cat_0..cat_4``
    (3-6 levels: strings ``level_a``, ``level_b``, ... or, with ``categorical="codes"``, the
    integers 0..k-1), ``label`` ~ Bernoulli(sigmoid(z)), where z depends on num_00..num_04
    (linear, a tanh and a square) and on cat_0 and cat_1; the other 40 numeric and 3 categorical
    columns are noise. Returns the oracle's ROC AUC and accuracy (the true probabilities)."""
    import numpy as np
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, N_NUMERIC))
    means = rng.uniform(-50, 50, N_NUMERIC).round(1)
    scales = np.exp(rng.uniform(-2, 4, N_NUMERIC)).round(3)
    levels = [3, 4, 5, 6, 3]
    cats = [rng.integers(0, k, n) for k in levels]
    effect0 = np.array([0.0, 0.3, -0.3])[cats[0]]
    effect1 = np.array([0.0, 0.2, -0.2, 0.4])[cats[1]]
    logit = 5.0 * (
        0.6 * z[:, 0]
        - 0.5 * z[:, 1]
        + 0.4 * z[:, 2]
        + 0.3 * np.tanh(2 * z[:, 3])
        + 0.25 * (z[:, 4] ** 2 - 1)
        + effect0
        + effect1
    )
    proba = 1 / (1 + np.exp(-logit))
    label = (rng.random(n) < proba).astype(np.int64)
    frame = pd.DataFrame(means + z * scales, columns=[f"num_{i:02d}" for i in range(N_NUMERIC)])
    for i, (k, codes) in enumerate(zip(levels, cats, strict=True)):
        names = np.array([f"level_{chr(97 + j)}" for j in range(k)])
        frame[f"cat_{i}"] = names[codes] if categorical == "strings" else codes
    frame[TARGET] = label
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.6g")
    return {
        "rows": n,
        "columns": frame.shape[1],
        "csv_bytes": path.stat().st_size,
        "positive_share": float(label.mean()),
        "oracle_roc_auc": float(roc_auc_score(label, proba)),
        "oracle_accuracy": float(((proba >= 0.5) == label).mean()),
    }


def make_project(root: Path) -> Path:
    """A copy of the repo's notebooks and params (the pipeline) under ``root``, as
    ``tests/_project.py``'s ``make_project`` makes one."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("notebooks", "params"):
        shutil.copytree(REPO / name, root / name)
    (root / "workspace").mkdir(exist_ok=True)
    shutil.copyfile(REPO / "requirements.lock", root / "requirements.lock")
    return root


def overrides(csv: Path, extra: list[str]) -> list[str]:
    return [f"data.source={csv}", f"data.target={TARGET}", *SYNTHETIC_PARAMS, *extra]


def resolve_params(project: Path, values: list[str]) -> dict[str, dict[str, Any]]:
    """Every stage's parameter values as ``nbtrail run`` would pass them."""
    from nbtrail.core.workspace import Workspace
    from nbtrail.pipeline.plan import plan

    return plan(Workspace(project), overrides=values).params


def bench_env(omp_threads: int | None = None) -> dict[str, str]:
    """The environment of both sides; ``omp_threads`` sets OMP_NUM_THREADS for both (the
    histogram gradient boosting's OpenMP threads, see BENCHMARKS.md)."""
    env = dict(os.environ)
    if omp_threads is not None:
        env["OMP_NUM_THREADS"] = str(omp_threads)
    for name in ("NBTRAIL_ROOT", "NBTRAIL_RUN_DIR"):
        env.pop(name, None)
    # As on a user's machine: Python caches compiled modules (this sandbox sets
    # PYTHONDONTWRITEBYTECODE, which would make every process recompile what it imports).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _hwm_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure(
    cmd: list[str], log: Path, *, interval: float, timeout: float, omp_threads: int | None
) -> dict[str, Any]:
    """Run ``cmd``; its wall time, exit code and the peak memory of it and its descendants."""
    import psutil

    load_before = os.getloadavg()[0]
    with open(log, "wb") as out:
        out.write(f"$ {' '.join(cmd)}\n".encode())
        out.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=bench_env(omp_threads)
        )
        root = psutil.Process(proc.pid)
        peak_sum, hwm, seen = 0, {}, set()
        while proc.poll() is None:
            if time.perf_counter() - t0 > timeout:
                proc.kill()
                proc.wait()
                raise SystemExit(f"bench: timed out after {timeout:.0f} s: {' '.join(cmd)}")
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            total = 0
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    continue
                seen.add(p.pid)
                hwm[p.pid] = max(hwm.get(p.pid, 0), _hwm_bytes(p.pid))
            peak_sum = max(peak_sum, total)
            time.sleep(interval)
        wall = time.perf_counter() - t0
    return {
        "wall_s": round(wall, 3),
        "rc": proc.returncode,
        "peak_rss_sum_bytes": peak_sum,
        "max_process_hwm_bytes": max(hwm.values(), default=0),
        "processes_seen": len(seen),
        "load1_before": round(load_before, 2),
        "load1_after": round(os.getloadavg()[0], 2),
    }


def stage_records(project: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for f in sorted((project / "workspace" / "runs").glob("*/record.json")):
        rec = json.loads(f.read_text())
        out[rec["stage"]] = rec
    return out


def run_pipeline(
    project: Path, values: list[str], log: Path, *, jobs: int, **kw: Any
) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "nbtrail", "-C", str(project), "run", "-j", str(jobs)]
    for v in values:
        cmd += ["-p", v]
    m = measure(cmd, log, **kw)
    recs = stage_records(project)
    m["stages"] = {s: recs[s].get("duration_s") for s in STAGES if s in recs}
    m["status"] = {s: recs[s].get("status") for s in STAGES if s in recs}
    metrics = {s: recs[s].get("metrics") or {} for s in recs}
    m["check"] = {
        "roc_auc": metrics.get("evaluate", {}).get("roc_auc"),
        "cv_roc_auc": metrics.get("train", {}).get("cv_roc_auc"),
        "parity_max_abs_diff": metrics.get("export", {}).get("parity_max_abs_diff"),
    }
    m["errors"] = {
        s: f"{r['error']['ename']}: {r['error']['evalue']}".splitlines()[0]
        for s, r in recs.items()
        if r.get("status") == "failed" and r.get("error")
    }
    return m


def run_bare(csv: Path, params: Path, workdir: Path, log: Path, **kw: Any) -> dict[str, Any]:
    out = workdir / "bare.json"
    cmd = [sys.executable, str(BARE), "--csv", str(csv), "--params", str(params)]
    cmd += ["--workdir", str(workdir), "--out", str(out)]
    m = measure(cmd, log, **kw)
    if m["rc"] == 0:
        doc = json.loads(out.read_text())
        m["stages"] = doc["phases"]
        res = doc["results"]
        m["check"] = {
            "roc_auc": res["metrics"].get("roc_auc"),
            "cv_roc_auc": res.get("cv_roc_auc"),
            "parity_max_abs_diff": res.get("parity_max_abs_diff"),
        }
        m["errors"] = {}  # the bare script raises when a phase cannot run
    return m


def same_work(bare: dict[str, Any], pipe: dict[str, Any]) -> list[str]:
    """The figures on which the two runs disagree (they must agree), and the stages where
    one failed and the other did not, or with another error."""
    diffs = []
    for k, a in bare.get("check", {}).items():
        b = pipe.get("check", {}).get(k)
        if a is None or b is None or abs(a - b) > 1e-9 * max(1.0, abs(a)):
            diffs.append(f"{k}: bare {a} vs pipeline {b}")
    if bare["errors"] != pipe["errors"]:
        diffs.append(f"failures: bare {bare['errors']} vs pipeline {pipe['errors']}")
    return diffs


def one_size(n: int, repeats: int, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    folder = root / f"rows-{n}"
    csv = folder / f"synthetic_{n}.csv"
    t0 = time.perf_counter()
    data = generate(n, csv, seed=args.seed, categorical=args.categorical)
    data["generate_s"] = round(time.perf_counter() - t0, 1)
    print(f"bench: {n:,} rows written to {csv} ({data['csv_bytes'] / 1e6:.0f} MB)", flush=True)
    values = overrides(csv, args.param)
    params = resolve_params(make_project(folder / "resolve"), values)
    params_file = folder / "params.json"
    params_file.write_text(json.dumps(params, indent=1))
    logs = folder / "logs"
    logs.mkdir()
    out: dict[str, Any] = {"data": data, "params": params, "overrides": values, "runs": []}
    for rep in range(repeats):
        for kind in ("bare", "pipeline"):
            where = folder / f"{kind}-{rep}"
            log = logs / f"{kind}-{rep}.log"
            kw = {
                "interval": args.interval,
                "timeout": args.timeout,
                "omp_threads": args.omp_threads,
            }
            if kind == "bare":
                m = run_bare(csv, params_file, where, log, **kw)
            else:
                m = run_pipeline(make_project(where), values, log, jobs=args.jobs, **kw)
            m.update(kind=kind, rep=rep)
            out["runs"].append(m)
            print(
                f"bench: {n:,} rows, {kind} #{rep}: {m['wall_s']:.1f} s, "
                f"peak {m['peak_rss_sum_bytes'] / 1e9:.2f} GB (rc {m['rc']})",
                flush=True,
            )
            if m.get("errors"):
                print(f"bench: {kind} #{rep} failed as expected: {m['errors']}", flush=True)
            if m["rc"] != 0 and not (kind == "pipeline" and m["errors"]):
                raise SystemExit(f"bench: {kind} failed (rc {m['rc']}); see {log}")
            if not args.keep:
                shutil.rmtree(where, ignore_errors=True)
        bare, pipe = out["runs"][-2], out["runs"][-1]
        diffs = same_work(bare, pipe)
        if diffs:
            raise SystemExit("bench: bare and pipeline disagree: " + "; ".join(diffs))
    return out


def median_of(runs: list[dict[str, Any]], kind: str, key: str) -> float:
    return statistics.median(r[key] for r in runs if r["kind"] == kind)


def stage_median(runs: list[dict[str, Any]], kind: str, stage: str) -> float | None:
    vals = [r["stages"][stage] for r in runs if r["kind"] == kind and stage in r["stages"]]
    return statistics.median(vals) if vals else None


def report(sizes: dict[int, dict[str, Any]]) -> str:
    """Markdown tables of the medians, as BENCHMARKS.md shows them."""
    lines = [
        "| rows | bare wall | pipeline wall | overhead | bare peak | pipeline peak (sum of RSS)"
        " | largest process | runs |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n, doc in sizes.items():
        runs = doc["runs"]
        bw, pw = median_of(runs, "bare", "wall_s"), median_of(runs, "pipeline", "wall_s")
        lines.append(
            f"| {n:,} | {bw:.1f} s | {pw:.1f} s | {100 * (pw - bw) / bw:+.0f}% "
            f"| {median_of(runs, 'bare', 'peak_rss_sum_bytes') / 1e9:.2f} GB "
            f"| {median_of(runs, 'pipeline', 'peak_rss_sum_bytes') / 1e9:.2f} GB "
            f"| {median_of(runs, 'pipeline', 'max_process_hwm_bytes') / 1e9:.2f} GB "
            f"| {sum(r['kind'] == 'pipeline' for r in runs)} + {sum(r['kind'] == 'bare' for r in runs)} |"
        )
    lines += ["", "| rows | stage | bare | pipeline (duration_s) | difference |"]
    lines.append("| ---: | --- | ---: | ---: | ---: |")
    for n, doc in sizes.items():
        for stage in STAGES:
            b = stage_median(doc["runs"], "bare", stage)
            p = stage_median(doc["runs"], "pipeline", stage)
            if b is None or p is None:
                continue
            lines.append(f"| {n:,} | {stage} | {b:.1f} s | {p:.1f} s | {p - b:+.1f} s |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000])
    ap.add_argument(
        "--repeats", type=int, nargs="+", default=[2], help="per --rows value (last one repeats)"
    )
    ap.add_argument("--param", action="append", default=[], metavar="STAGE.KEY=VALUE")
    ap.add_argument("--jobs", type=int, default=2, help="nbtrail run -j (its default: 2)")
    ap.add_argument("--interval", type=float, default=0.1, help="memory sampling period, s")
    ap.add_argument("--timeout", type=float, default=1800, help="per run, s")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--omp-threads",
        type=int,
        help="OMP_NUM_THREADS for both sides (default: inherited; 1 is steadier on a shared machine)",
    )
    ap.add_argument(
        "--categorical",
        choices=("strings", "codes"),
        default="strings",
        help="how the 5 categorical columns are written: string levels, or integer codes",
    )
    ap.add_argument("--workdir", type=Path, help="default: a new temp folder, removed at the end")
    ap.add_argument("--keep", action="store_true", help="keep each run's project and outputs")
    ap.add_argument("--out", type=Path, help="write every figure as JSON here")
    ap.add_argument("--summary", type=Path, help="write the rows for make_bench here")
    args = ap.parse_args(argv)
    summary = Summary(args.summary)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="nbtrail-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    sizes: dict[int, dict[str, Any]] = {}
    try:
        for i, n in enumerate(args.rows):
            repeats = args.repeats[min(i, len(args.repeats) - 1)]
            sizes[n] = one_size(n, repeats, args, root)
    finally:
        doc = {
            "started": started,
            "ended": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "nproc": os.cpu_count(),
                "machine": platform.machine(),
                "python": platform.python_version(),
            },
            "omp_threads": args.omp_threads,
            "sizes": {str(n): d for n, d in sizes.items()},
        }
        if args.out:
            args.out.write_text(json.dumps(doc, indent=1, default=str))
        if not args.workdir and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(report(sizes))
    load = f"load {summary.load_start:.1f}-{os.getloadavg()[0]:.1f}"
    for n, d in sizes.items():
        runs = d["runs"]
        bw, pw = median_of(runs, "bare", "wall_s"), median_of(runs, "pipeline", "wall_s")
        peak = median_of(runs, "pipeline", "peak_rss_sum_bytes") / 1e9
        over = 100 * (pw - bw) / bw
        summary.add(
            f"whole default pipeline, {n:,} x 50 synthetic, beside a bare script",
            "overhead <= 10% over the bare script; 1M rows within 4 GB (#11)",
            f"pipeline {pw:.1f} s vs bare {bw:.1f} s: **{over:+.0f}%**; peak {peak:.2f} GB (sum"
            f" of RSS); {sum(r['kind'] == 'pipeline' for r in runs)} pair(s); {load}",
            verdict(over <= 10) + ("" if n >= 100_000 else f" (at {n:,} rows: bounded size)"),
        )
    summary.write()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
