"""Run every benchmark in bench/ at a bounded size, one after the other, and rewrite
BENCHMARKS.md from their ``--summary`` JSON (``make bench``).

    .venv/bin/python bench/make_bench.py [--only NAME,...] [--budget-scale 1.0] [--out BENCHMARKS.md]

Each script runs in its own process group with a time budget (the sum of the budgets is the
bound: 14.5 minutes on 2 cores; what a script leaves unused passes to the next); one that
overruns is stopped (SIGTERM, then SIGKILL) and its row says so, with the figures it had
written by then if it writes them as it goes. The scale benchmarks run at reduced sizes here (the pipeline at 20,000 rows, the
monitor's scale check at 100,000 rows, 2-member sweeps); the full-size command of each stays
in the table. A script that fails or writes no summary gets a row saying that, as does a peer
tool that is not installed (the peers live in throwaway venvs under /tmp, see each script's
header). The 1-minute load average is taken at the start and end of every script, since the
2 cores are often shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PY = Path(sys.executable)
TOTAL_BUDGET = 14.5 * 60
PLOOMBER = Path("/tmp/benchvenv-ploomber/bin/ploomber")
DVC_PIPELINE = Path("/tmp/benchvenv-dvc/bin/dvc")
DVC_ADD = Path("/tmp/dvcvenv/bin/dvc")
NANNYML = Path("/tmp/nannyvenv/bin/python")


@dataclass
class Job:
    name: str  # shown in the tables
    script: str
    args: list[str]
    budget: float  # seconds
    area: str  # what it measures (the row of a run that produced no summary)
    target: str
    full: str  # the full-size command
    details: str  # bench/RESULTS-*.md
    python: Path = PY
    env: dict[str, str] = field(default_factory=dict)
    peers: dict[str, Path] = field(default_factory=dict)  # name -> executable it compares with


def jobs() -> list[Job]:
    pipeline_tools = ["nbtrail", "papermill"]
    pipeline_tools += ["ploomber"] if PLOOMBER.is_file() else []
    pipeline_tools += ["dvc"] if DVC_PIPELINE.is_file() else []
    out = [
        Job(
            "start-up",
            "bench_startup.py",
            ["--repeat", "7"],
            60,
            "no-op `nbtrail run`, CLI start-up",
            "no-op <= 0.1 s, 0 kernels (#16)",
            ".venv/bin/python bench/bench_startup.py --repeat 15",
            "RESULTS-startup.md",
        ),
        Job(
            "pipeline",
            "bench_pipeline.py",
            ["--repeats", "1", "--tools", ",".join(pipeline_tools)],
            130,
            "4-notebook pipeline vs papermill, Ploomber, DVC",
            "whole <= 1.25x time in cells; >= 2x faster than the fastest peer (#16)",
            ".venv/bin/python bench/bench_pipeline.py --repeats 3",
            "RESULTS-pipeline.md",
            peers={"Ploomber": PLOOMBER, "DVC": DVC_PIPELINE},
        ),
        Job(
            "index",
            "bench_index.py",
            ["--runs", "10000", "--repeat", "3"],
            65,
            "`nbtrail runs` / `lineage` / `index rebuild` over 10,000 runs",
            "<= 100 ms whole process; rebuild <= 2 s (#16)",
            ".venv/bin/python bench/bench_index.py",
            "RESULTS-index.md",
        ),
        Job(
            "data add",
            "bench_data_add.py",
            ["--size-mb", "1024", "--repeats", "1", "--dvc", str(DVC_ADD)],
            65,
            "`data add` of a 1.09 GB CSV vs `dvc add`",
            "<= 1.0 s (#16)",
            f".venv/bin/python bench/bench_data_add.py --dvc {DVC_ADD}",
            "RESULTS-data.md",
            peers={"DVC": DVC_ADD},
        ),
        Job(
            "A/B statistics",
            "bench_abtest.py",
            ["--max-rows", "1000"],
            25,
            "evaluation and A/B statistics",
            "(none)",
            ".venv/bin/python bench/bench_abtest.py",
            "RESULTS-abtest.md",
        ),
        Job(
            "inference",
            "bench_inference.py",
            [],
            35,
            "ONNX Runtime vs scikit-learn",
            "(none; #7)",
            ".venv/bin/python bench/bench_inference.py",
            "RESULTS-inference.md",
        ),
        Job(
            "label-free estimation",
            "bench_cbpe.py",
            ["--engine", "nbtrail"],
            30,
            "label-free estimation, 100 batches of 500 rows",
            "error and time no worse than NannyML's CBPE (#15)",
            ".venv/bin/python bench/bench_cbpe.py --engine nbtrail [--rows 5000]",
            "RESULTS-cbpe.md",
        ),
    ]
    if NANNYML.is_file():
        out.append(
            Job(
                "label-free estimation (NannyML)",
                "bench_cbpe.py",
                ["--engine", "nannyml"],
                30,
                "NannyML CBPE, the same batches",
                "(the peer of the row above)",
                f"NML_DISABLE_USAGE_LOGGING=1 {NANNYML} bench/bench_cbpe.py --engine nannyml",
                "RESULTS-cbpe.md",
                python=NANNYML,
                env={"NML_DISABLE_USAGE_LOGGING": "1"},
            )
        )
    out += [
        Job(
            "monitor",
            "bench_monitor.py",
            ["--reps", "200", "--scale", "--scale-rows", "100000"],
            55,
            "monitor notebook weight, false alarms, scale",
            "< 1 MB notebook; within memory at scale (#6)",
            ".venv/bin/python bench/bench_monitor.py --render; nice .venv/bin/python"
            " bench/bench_monitor.py --scale",
            "RESULTS-monitor.md",
        ),
        Job(
            "widgets",
            "bench_widgets.py",
            ["--runs", "10000", "--repeat", "5"],
            50,
            "run browser redraw over 10,000 runs",
            "<= 200 ms (#13)",
            ".venv/bin/python bench/bench_widgets.py",
            "RESULTS-widgets.md",
        ),
        Job(
            "runs push / pull",
            "bench_runs_sync.py",
            [],
            80,
            "`runs push` / `pull` of one default pipeline",
            "(none; #14)",
            ".venv/bin/python bench/bench_runs_sync.py",
            "RESULTS-runs-sync.md",
        ),
        Job(
            "sweep",
            "bench_sweep.py",
            ["--members", "2"],
            90,
            "sweep serial vs a LocalCluster of 2 workers",
            ">= 1.8x serial's throughput with 2 workers (#14)",
            ".venv/bin/python bench/bench_sweep.py",
            "RESULTS-sweep.md",
        ),
        Job(
            "sweep, remote-only",
            "bench_sweep_remote.py",
            ["--members", "2"],
            85,
            "remote-only sweep workers vs shared filesystem",
            "(none; #14)",
            ".venv/bin/python bench/bench_sweep_remote.py",
            "RESULTS-sweep-remote.md",
        ),
        Job(
            "pipeline at scale",
            "pipeline_scale.py",
            ["--rows", "20000", "--repeats", "1", "--omp-threads", "1"],
            100,
            "whole default pipeline on N x 50 beside a bare script",
            "overhead <= 10% over the bare script; 1M rows within 4 GB (#11)",
            ".venv/bin/python bench/pipeline_scale.py --rows 100000 --repeats 2 --omp-threads 1"
            "; --rows 1000000 --repeats 1 --omp-threads 1 --timeout 1500",
            "RESULTS-scale.md",
        ),
    ]
    return out


@dataclass
class Outcome:
    job: Job
    status: str  # ok, failed (rc N), timed out, no summary
    seconds: float
    load: tuple[float, float]
    rows: list[dict[str, str]]
    log: Path
    limit: float = 0.0  # the seconds it was given (its budget plus what earlier ones left)


def run_job(job: Job, budget: float, logs: Path, scale: float) -> Outcome:
    summary = logs / f"{job.script.removesuffix('.py')}-{len(list(logs.glob('*.json')))}.json"
    log = logs / f"{job.name.replace(' ', '_').replace('/', '_')}.log"
    cmd = [str(job.python), str(HERE / job.script), *job.args, "--summary", str(summary)]
    env = {**os.environ, **job.env}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as on a user's machine
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    limit = budget * scale
    print(f"make_bench: {job.name}: {' '.join(cmd[1:])} (budget {limit:.0f} s, load {load0:.2f})")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            rc: int | None = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            rc = None
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)  # its finally blocks stop servers, remove temp dirs
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    seconds = time.perf_counter() - t0
    load = (load0, os.getloadavg()[0])
    rows: list[dict[str, str]] = []
    if summary.is_file():
        try:
            rows = json.loads(summary.read_text())["rows"]
        except (ValueError, KeyError, TypeError):
            rows = []
    if rc is None:
        status = f"timed out after {seconds:.0f} s"
    elif rc != 0 and b"unrecognized arguments: --summary" in log.read_bytes():
        status = "this version of the script has no --summary yet"
    elif rc != 0:
        status = f"failed (exit {rc})"
    elif not rows:
        status = "no summary"
    else:
        status = "ok"
    print(f"make_bench: {job.name}: {status}, {seconds:.1f} s, load {load[0]:.2f} -> {load[1]:.2f}")
    return Outcome(job, status, seconds, load, rows, log, limit)


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f"{kb / 1024**2:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(outcomes: list[Outcome], started: datetime, wall: float, budget: float) -> str:
    m = machine()
    loads = [x for o in outcomes if o.seconds for x in o.load] or [0.0]
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/make_bench.py`): every benchmark in `bench/` at a bounded",
        f"size, one after the other, in **{wall / 60:.1f} min** (bound: {budget / 60:.1f} min).",
        "Each row's command is the one that produced it; the full-size command of each benchmark",
        "is in the second table, and the detail files hold the method, earlier full-size runs and",
        "what the figures mean ([the last hand-written summary](bench/RESULTS-full-size.md)).",
        "",
        f"**Machine**: {m['nproc']} cores (`nproc`), {m['cpu']}, {m['ram']} RAM, Python"
        f" {m['python']}, {m['os']}; run started {started:%Y-%m-%d %H:%M} UTC.",
        f"**Load**: the 1-minute load average was between {min(loads):.2f} and {max(loads):.2f}"
        " during the run (each script's own start and end are in the second table). The 2 cores"
        " are shared with other engineers' jobs: above 2, every wall-clock figure here is"
        " stretched by the others' work, up to several times, and a peer comparison run side by"
        " side in one script is the figure to trust.",
        "",
        "| area | target (issue) | measured | verdict | command / details |",
        "| --- | --- | --- | --- | --- |",
    ]
    for o in outcomes:
        link = f"[{o.job.details}](bench/{o.job.details})"
        rows = o.rows or [
            {
                "area": o.job.area,
                "target": o.job.target,
                "measured": f"no figure: {o.status} (see the log of `make bench`)",
                "verdict": "not measured",
                "command": ".venv/bin/python bench/" + " ".join([o.job.script, *o.job.args]),
            }
        ]
        for r in rows:
            lines.append(
                f"| {_cell(r.get('area', ''))} | {_cell(r.get('target', ''))} |"
                f" {_cell(r.get('measured', ''))} | {_cell(r.get('verdict', ''))} |"
                f" `{_cell(r.get('command', ''))}`, {link} |"
            )
        for peer, exe in o.job.peers.items():
            if not exe.is_file():
                lines.append(
                    f"| {_cell(o.job.area)}: {peer} | (the peer) | - | peer not installed"
                    f" (`{exe}` missing; see the script's header for its venv) | {link} |"
                )
    lines += [
        "",
        "## The run, script by script",
        "",
        "| benchmark | status | seconds (given) | load at start -> end | full-size command |",
        "| --- | --- | ---: | --- | --- |",
    ]
    for o in outcomes:
        lines.append(
            f"| `{o.job.script}` {_cell(' '.join(o.job.args))} | {o.status} |"
            f" {o.seconds:.0f} ({o.limit:.0f}) | {o.load[0]:.2f} -> {o.load[1]:.2f} |"
            f" `{_cell(o.job.full)}` |"
        )
    lines += [
        "",
        "A script stopped at its budget gets up to 20 s more to clean up (its servers, its temp"
        " folders), which the seconds include.",
        "",
        "Regenerate with `make bench` (or `.venv/bin/python bench/make_bench.py --only NAME`"
        " for one benchmark, which rewrites the whole page with that row alone).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated benchmark names or scripts to run")
    ap.add_argument("--budget-scale", type=float, default=1.0, help="multiply every budget")
    ap.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    ap.add_argument("--logs", type=Path, help="keep the scripts' logs and summaries here")
    args = ap.parse_args(argv)
    todo = jobs()
    if args.only:
        wanted = {w.strip() for w in args.only.split(",")}
        todo = [j for j in todo if j.name in wanted or j.script.removesuffix(".py") in wanted]
    logs = args.logs or Path(tempfile.mkdtemp(prefix="nbtrail-make-bench-"))
    logs.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    bound = TOTAL_BUDGET * args.budget_scale
    outcomes: list[Outcome] = []
    saved = 0.0  # budget the scripts before did not use: the next one may use it
    for job in todo:
        left = bound - (time.perf_counter() - t0)
        if left < 5:
            outcomes.append(
                Outcome(job, "not run: the time bound was used up", 0, (0, 0), [], logs)
            )
            continue
        limit = min(job.budget + saved, left / args.budget_scale)
        outcome = run_job(job, limit, logs, args.budget_scale)
        saved = max(0.0, limit - outcome.seconds / args.budget_scale)
        outcomes.append(outcome)
    wall = time.perf_counter() - t0
    args.out.write_text(render(outcomes, started, wall, bound))
    print(
        f"make_bench: {len(outcomes)} benchmarks in {wall / 60:.1f} min; wrote {args.out}; logs in {logs}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
