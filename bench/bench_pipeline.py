"""A 4-stage notebook pipeline run by nbtrail, papermill, Ploomber and DVC, side by side.

    .venv/bin/python bench/bench_pipeline.py [--repeats 3] [--tools nbtrail,papermill,...]

The stages (load breast_cancer to Parquet, fit a scaled logistic regression, score the holdout
ROC AUC to JSON, copy the model) are the notebooks in ``bench/pipeline4/``: ``nbtrail/`` uses
the nbtrail notebook API, ``plain/`` holds twins doing the same work with file paths given as
Ploomber-style ``upstream`` / ``product`` parameters (so papermill, Ploomber and DVC all run the
very same files). Each tool gets a fresh project in a temp folder; every figure is the wall time
of whole processes:

* nbtrail: ``nbtrail -C PROJECT run`` (full: first run, then ``--force``; no-op: plain ``run``);
* papermill: the four ``papermill`` CLI calls back to back (no no-op: papermill has none);
* Ploomber: ``ploomber build`` (then ``--force``; no-op: ``ploomber build`` again);
* DVC: ``dvc repro`` over a ``dvc.yaml`` whose stages call papermill (then ``--force``; no-op:
  ``dvc repro``).

Every kernel, whoever starts it, is ``/work/main/.venv``'s Python (a ``python3`` kernelspec put
first on ``JUPYTER_PATH``), so all tools run the notebooks with the same packages. That
kernelspec also counts kernel starts, which checks that a no-op run starts none; nbtrail's
kernels, forked by its fork server (started once per run through that kernelspec), are counted
from the records' ``extra.kernel.forked``. Ploomber and DVC come from their own throwaway venvs
(``--ploomber-venv``, ``--dvc-venv``).

"Time in code cells" is given two ways: nbtrail's own cells (their imports were done ahead of
them, by the fork server and each kernel's warm-up), and the cells of the same work run by
plain papermill in cold kernels (the papermill column's executed notebooks: the notebooks'
code as written, imports included), which is the tool-independent measure of what the
notebooks themselves cost.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from _summary import Summary, verdict

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "pipeline4"
MAIN_VENV = Path(sys.prefix)
STAGES = ("load", "fit", "score", "copy")
TOOLS = ("nbtrail", "papermill", "ploomber", "dvc")

# The papermill calls (the same parameters dvc.yaml passes).
PAPERMILL_PARAMS = {
    "load": "{upstream: null, product: {data: out/data.parquet}}",
    "fit": "{upstream: {load: {data: out/data.parquet}}, product: {model: out/model.skops}}",
    "score": "{upstream: {load: {data: out/data.parquet}, fit: {model: out/model.skops}},"
    " product: {metrics: out/metrics.json}}",
    "copy": "{upstream: {fit: {model: out/model.skops}}, product: {model: out/model_copy.skops}}",
}


@dataclass
class Sample:
    seconds: float
    kernels: int
    load1: float
    began: float = 0.0  # wall-clock epoch seconds of the first command's start
    ended: float = 0.0


@dataclass
class Tool:
    name: str
    project: Path
    full: list[Sample] = field(default_factory=list)
    noop: list[Sample] = field(default_factory=list)
    runs_done: int = 0


class Bench:
    def __init__(self, root: Path, ploomber_venv: Path, dvc_venv: Path) -> None:
        self.root = root
        self.ploomber_venv = ploomber_venv
        self.dvc_venv = dvc_venv
        self.kernel_log = root / "kernel-starts.log"
        self.logs = root / "logs"
        self.logs.mkdir()
        self.env = self._env()

    def _env(self) -> dict[str, str]:
        """A ``python3`` kernelspec (the main venv's Python) that logs each start, first on
        JUPYTER_PATH; telemetry of the peer tools off."""
        spec = self.root / "jupyter" / "kernels" / "python3"
        spec.mkdir(parents=True)
        native = MAIN_VENV / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"
        kernel = json.loads(native.read_text())  # ipykernel's own spec: keep all but argv
        launch = f'echo "start $3 $4" >> {self.kernel_log}; exec "$@"'
        kernel["argv"] = ["/bin/sh", "-c", launch, "bench-kernel", *kernel["argv"]]
        kernel["display_name"] = "Python 3 (bench: main venv, counted)"
        (spec / "kernel.json").write_text(json.dumps(kernel))
        env = dict(os.environ)
        env.pop("NBTRAIL_RUN_DIR", None)
        env.pop("NBTRAIL_ROOT", None)
        env["JUPYTER_PATH"] = str(self.root / "jupyter")
        env["PATH"] = f"{MAIN_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["PLOOMBER_STATS_ENABLED"] = "false"
        env["PLOOMBER_VERSION_CHECK_DISABLED"] = "true"
        env["DVC_NO_ANALYTICS"] = "1"
        # As on a user's machine: Python caches compiled modules (this sandbox sets
        # PYTHONDONTWRITEBYTECODE, which makes every nbtrail call recompile its source).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env

    def kernel_starts(self) -> int:
        """Kernels started through the kernelspec (a fork server's start is not one)."""
        if not self.kernel_log.is_file():
            return 0
        lines = self.kernel_log.read_text().splitlines()
        return sum(1 for line in lines if "nbtrail.pipeline.zygote" not in line)

    def forked_kernels(self, project: Path, since: float) -> int:
        """nbtrail's kernels forked by its fork server for the runs started after ``since``."""
        n = 0
        for rec_file in (project / "workspace" / "runs").glob("*/record.json"):
            rec = json.loads(rec_file.read_text())
            started = datetime.fromisoformat(rec["started"]).timestamp()
            if started >= since and rec.get("extra", {}).get("kernel", {}).get("forked"):
                n += 1
        return n

    def call(self, cmd: list[str], cwd: Path, tag: str) -> None:
        with open(self.logs / f"{tag}.log", "ab") as log:
            log.write(f"$ {' '.join(cmd)}\n".encode())
            log.flush()
            proc = subprocess.run(cmd, cwd=cwd, env=self.env, stdout=log, stderr=log)
        if proc.returncode != 0:
            raise SystemExit(
                f"bench: {' '.join(cmd)} failed ({proc.returncode}); see {self.logs / tag}.log"
            )

    def timed(self, cmds: list[list[str]], cwd: Path, tag: str) -> Sample:
        k0 = self.kernel_starts()
        began = time.time()
        t0 = time.perf_counter()
        for cmd in cmds:
            self.call(cmd, cwd, tag)
        seconds = time.perf_counter() - t0
        return Sample(
            seconds, self.kernel_starts() - k0, os.getloadavg()[0], began, began + seconds
        )

    # Projects
    def make(self, name: str) -> Tool:
        proj = self.root / name
        if name == "nbtrail":
            shutil.copytree(FIXTURES / "nbtrail", proj)
        else:
            (proj / "notebooks").mkdir(parents=True)
            for s in STAGES:
                shutil.copyfile(
                    FIXTURES / "plain" / f"{s}.ipynb", proj / "notebooks" / f"{s}.ipynb"
                )
            (proj / "out").mkdir()
            (proj / "nb").mkdir()
        if name == "ploomber":
            shutil.copyfile(FIXTURES / "ploomber" / "pipeline.yaml", proj / "pipeline.yaml")
        if name == "dvc":
            shutil.copyfile(FIXTURES / "dvc" / "dvc.yaml", proj / "dvc.yaml")
            self.call(["git", "init", "-q"], proj, "dvc-setup")
            self.call([str(self.dvc_venv / "bin" / "dvc"), "init", "-q"], proj, "dvc-setup")
            self.call(
                [str(self.dvc_venv / "bin" / "dvc"), "config", "core.analytics", "false"],
                proj,
                "dvc-setup",
            )
        return Tool(name, proj)

    def full_cmds(self, t: Tool) -> list[list[str]]:
        again = t.runs_done > 0
        if t.name == "nbtrail":
            return [
                [str(MAIN_VENV / "bin" / "nbtrail"), "-C", str(t.project), "run"]
                + (["--force"] if again else [])
            ]
        if t.name == "papermill":
            return [
                [
                    str(MAIN_VENV / "bin" / "papermill"),
                    f"notebooks/{s}.ipynb",
                    f"nb/{s}.ipynb",
                    "-y",
                    PAPERMILL_PARAMS[s],
                ]
                for s in STAGES
            ]
        if t.name == "ploomber":
            return [
                [str(self.ploomber_venv / "bin" / "ploomber"), "build"]
                + (["--force"] if again else [])
            ]
        return [[str(self.dvc_venv / "bin" / "dvc"), "repro"] + (["--force"] if again else [])]

    def noop_cmds(self, t: Tool) -> list[list[str]] | None:
        if t.name == "nbtrail":
            return [[str(MAIN_VENV / "bin" / "nbtrail"), "-C", str(t.project), "run"]]
        if t.name == "ploomber":
            return [[str(self.ploomber_venv / "bin" / "ploomber"), "build"]]
        if t.name == "dvc":
            return [[str(self.dvc_venv / "bin" / "dvc"), "repro"]]
        return None

    def run_full(self, t: Tool) -> None:
        s = self.timed(self.full_cmds(t), t.project, t.name)
        if t.name == "nbtrail":
            s.kernels += self.forked_kernels(t.project, s.began)
        t.runs_done += 1
        t.full.append(s)
        if s.kernels != len(STAGES):
            print(f"bench: WARNING {t.name} full run started {s.kernels} kernels", file=sys.stderr)
        print(
            f"  {t.name:<10} full   {s.seconds:7.2f} s  kernels={s.kernels}  load1={s.load1:.2f}",
            flush=True,
        )

    def run_noop(self, t: Tool) -> None:
        cmds = self.noop_cmds(t)
        if cmds is None:
            return
        s = self.timed(cmds, t.project, t.name)
        t.noop.append(s)
        if t.name == "nbtrail":
            log = (self.logs / "nbtrail.log").read_text()
            if not log.rstrip().endswith("nothing changed: every stage reused its last run"):
                print("bench: WARNING nbtrail no-op did not say 'nothing changed'", file=sys.stderr)
        print(
            f"  {t.name:<10} no-op  {s.seconds:7.3f} s  kernels={s.kernels}  load1={s.load1:.2f}",
            flush=True,
        )


def stage_times(project: Path) -> dict[str, dict[str, float]]:
    """For the latest completed run of each stage in an nbtrail project: its record's
    ``duration_s`` and the time its code cells took (papermill's per-cell durations)."""
    best: dict[str, tuple[str, Path, dict]] = {}
    for rec_file in (project / "workspace" / "runs").glob("*/record.json"):
        rec = json.loads(rec_file.read_text())
        if rec.get("status") != "completed" or rec.get("duration_s") is None:
            continue
        if rec["stage"] not in best or rec["started"] > best[rec["stage"]][0]:
            best[rec["stage"]] = (rec["started"], rec_file.parent, rec)
    out: dict[str, dict[str, float]] = {}
    for stage in STAGES:
        if stage not in best:
            continue
        _, run_dir, rec = best[stage]
        cells = 0.0
        executed = run_dir / Path(rec["notebook"].get("executed") or "").name
        if executed.is_file():
            nb = json.loads(executed.read_text())
            for cell in nb.get("cells", []):
                cells += (cell.get("metadata", {}).get("papermill", {}).get("duration")) or 0.0
        kernel = rec.get("extra", {}).get("kernel", {})
        out[stage] = {
            "duration_s": float(rec["duration_s"]),
            "cells_s": round(cells, 3),
            "warmup_s": float(kernel.get("warmup_s") or 0.0),
            "waited_s": float(kernel.get("waited_s") or 0.0),
            "started": datetime.fromisoformat(rec["started"]).timestamp(),
            "ended": datetime.fromisoformat(rec["ended"]).timestamp(),
        }
    return out


def notebook_cells_s(path: Path) -> float:
    """The seconds an executed notebook's code cells took (papermill's per-cell durations)."""
    nb = json.loads(path.read_text())
    return sum(
        (c.get("metadata", {}).get("papermill", {}).get("duration") or 0.0)
        for c in nb.get("cells", [])
        if c.get("cell_type") == "code"
    )


def papermill_cells(project: Path) -> dict[str, float]:
    """Per stage, the time in code cells of the papermill column's last run: the same work in
    cold kernels, imports inside the cells (the notebooks' code as written)."""
    out = {}
    for stage in STAGES:
        executed = project / "nb" / f"{stage}.ipynb"
        if executed.is_file():
            out[stage] = round(notebook_cells_s(executed), 3)
    return out


def stats(samples: list[Sample]) -> dict[str, float] | None:
    if not samples:
        return None
    xs = [s.seconds for s in samples]
    return {
        "median": statistics.median(xs),
        "min": min(xs),
        "max": max(xs),
        "n": len(xs),
        "kernels_max": max(s.kernels for s in samples),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="samples per figure (median of N)")
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of tools")
    ap.add_argument("--ploomber-venv", type=Path, default=Path("/tmp/benchvenv-ploomber"))
    ap.add_argument("--dvc-venv", type=Path, default=Path("/tmp/benchvenv-dvc"))
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument("--keep", action="store_true", help="keep the temp projects")
    ap.add_argument("--summary", type=Path, help="write the rows for make_bench here")
    args = ap.parse_args(argv)
    summary = Summary(args.summary)
    names = [t for t in args.tools.split(",") if t]
    unknown = set(names) - set(TOOLS)
    if unknown:
        ap.error(f"unknown tools: {sorted(unknown)}")
    for name, exe in (
        ("ploomber", args.ploomber_venv / "bin" / "ploomber"),
        ("dvc", args.dvc_venv / "bin" / "dvc"),
    ):
        if name in names and not exe.is_file():
            if args.summary:  # make_bench: the row says the peer is not installed
                names.remove(name)
                print(f"bench: {exe} not found: {name} left out (peer not installed)")
                continue
            ap.error(f"{exe} not found: install {name} into a venv there or drop it from --tools")

    root = Path(tempfile.mkdtemp(prefix="nbtrail-bench-pipeline-"))
    bench = Bench(root, args.ploomber_venv, args.dvc_venv)
    load_before = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    print(f"bench: projects in {root}; load average before {load_before}", flush=True)
    tools = [bench.make(n) for n in names]
    partial = False

    def stop(signum: int, frame: object) -> None:  # make_bench's budget: report what ran
        raise _Stopped()

    signal.signal(signal.SIGTERM, stop)
    try:
        try:
            for r in range(args.repeats):  # rotate the order so no tool always runs first
                order = tools[r % len(tools) :] + tools[: r % len(tools)]
                print(f"round {r + 1} (full)", flush=True)
                for t in order:
                    bench.run_full(t)
            for r in range(args.repeats):
                order = tools[r % len(tools) :] + tools[: r % len(tools)]
                print(f"round {r + 1} (no-op)", flush=True)
                for t in order:
                    bench.run_noop(t)
        except _Stopped:
            partial = True
            print("bench: stopped (SIGTERM): the figures below are those measured so far")
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        tools = [t for t in tools if t.full]
        load_after = os.getloadavg()
        result = {
            "started": started,
            "machine": {
                "nproc": os.cpu_count(),
                "arch": platform.machine(),
                "python": platform.python_version(),
            },
            "load_before": load_before,
            "load_after": load_after,
            "repeats": args.repeats,
            "partial": partial,
            "tools": {
                t.name: {
                    "full": stats(t.full),
                    "noop": stats(t.noop),
                    "full_samples": [round(s.seconds, 3) for s in t.full],
                    "noop_samples": [round(s.seconds, 3) for s in t.noop],
                }
                for t in tools
            },
        }
        pm = next((t for t in tools if t.name == "papermill"), None)
        if pm is not None and pm.full:
            result["papermill_cells_s"] = papermill_cells(pm.project)
        nbt = next((t for t in tools if t.name == "nbtrail"), None)
        if nbt is not None and nbt.full:
            last = nbt.full[-1]
            st = stage_times(nbt.project)
            result["nbtrail_stage_seconds"] = st
            if st:
                result["nbtrail_timeline"] = {
                    "before_first_stage_s": round(
                        min(v["started"] for v in st.values()) - last.began, 3
                    ),
                    "first_to_last_stage_s": round(
                        max(v["ended"] for v in st.values())
                        - min(v["started"] for v in st.values()),
                        3,
                    ),
                    "after_last_stage_s": round(
                        last.ended - max(v["ended"] for v in st.values()), 3
                    ),
                    "whole_process_s": round(last.seconds, 3),
                }
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    print(f"\nload average after {load_after}")
    print(
        f"{'tool':<10} {'full median':>12} {'min':>8} {'max':>8}   "
        f"{'no-op median':>12} {'min':>8} {'max':>8}  kernels(no-op)"
    )
    for name, fig in result["tools"].items():
        f, n = fig["full"], fig["noop"]
        line = f"{name:<10} {f['median']:11.2f}s {f['min']:7.2f}s {f['max']:7.2f}s   "
        if n:
            line += f"{n['median']:11.3f}s {n['min']:7.3f}s {n['max']:7.3f}s  {n['kernels_max']}"
        else:
            line += f"{'n/a':>12}"
        print(line)
    if "nbtrail_stage_seconds" in result:
        st = result["nbtrail_stage_seconds"]
        print(
            "nbtrail, last full run, per stage: record duration_s / time in code cells"
            " (kernel warm-up ahead of the cells; time the stage waited for its kernel)"
        )
        for k, v in st.items():
            print(
                f"  {k:<6} {v['duration_s']:6.2f} s / {v['cells_s']:6.2f} s"
                f"  (warm-up {v['warmup_s']:.2f} s; waited {v['waited_s']:.2f} s)"
            )
        total = sum(v["duration_s"] for v in st.values())
        print(f"  sum    {total:6.2f} s / {sum(v['cells_s'] for v in st.values()):6.2f} s")
        pmc = result.get("papermill_cells_s")
        if pmc:
            cells = ", ".join(f"{k} {v:.2f}" for k, v in pmc.items())
            print(
                f"  the same work's code cells under plain papermill (cold kernels, imports in"
                f" the cells): {sum(pmc.values()):.2f} s ({cells})"
            )
        tl = result.get("nbtrail_timeline")
        if tl:
            print(
                f"  process start -> first stage {tl['before_first_stage_s']:.2f} s; first stage"
                f" start -> last stage end {tl['first_to_last_stage_s']:.2f} s; last stage end ->"
                f" exit {tl['after_last_stage_s']:.2f} s; whole {tl['whole_process_s']:.2f} s"
            )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    add_summary_rows(summary, result)
    summary.write()
    return 0


class _Stopped(Exception):
    """SIGTERM arrived (make_bench's time budget)."""


def add_summary_rows(summary: Summary, result: dict) -> None:
    """The make_bench rows: nbtrail's whole time against its time in cells, against the
    fastest peer, and its no-op."""
    figs = result["tools"]
    load = f"load {result['load_before'][0]:.1f}-{result['load_after'][0]:.1f}"
    if result.get("partial"):
        load += "; stopped at its time budget: the tools that had run by then"
    n = result["repeats"]
    if "nbtrail" in figs and result.get("nbtrail_stage_seconds"):
        st = result["nbtrail_stage_seconds"]
        whole = result["nbtrail_timeline"]["whole_process_s"]
        cells = sum(v["cells_s"] for v in st.values())
        warm = sum(v.get("warmup_s", 0.0) for v in st.values())
        ratio = whole / cells if cells else float("inf")
        pmc = sum((result.get("papermill_cells_s") or {}).values())
        if pmc:
            summary.add(
                "4-notebook pipeline: whole wall time / the notebooks' code as written",
                "<= 1.25x (#16: the time in code cells, imports included)",
                f"{whole:.2f} s whole / {pmc:.2f} s in the same work's code cells under plain"
                f" papermill (cold kernels, imports in the cells) = **{whole / pmc:.2f}x**;"
                f" last full run; {load}",
                verdict(whole / pmc <= 1.25),
            )
        summary.add(
            "4-notebook pipeline: whole wall time / nbtrail's own time in code cells",
            "<= 1.25x (#16, read strictly)",
            f"{whole:.2f} s whole / {cells:.2f} s in cells = **{ratio:.2f}x** (the imports"
            f" ran ahead of the cells: in the fork server once and in each kernel's warm-up,"
            f" {warm:.2f} s of warm-up in all, overlapped with earlier stages); last full run;"
            f" {load}",
            verdict(ratio <= 1.25),
        )
    peers = {k: v for k, v in figs.items() if k != "nbtrail"}
    if "nbtrail" in figs and peers:
        ours = figs["nbtrail"]["full"]["median"]
        best = min(peers, key=lambda k: peers[k]["full"]["median"])
        theirs = peers[best]["full"]["median"]
        others = ", ".join(f"{k} {v['full']['median']:.2f} s" for k, v in peers.items())
        summary.add(
            "4-notebook pipeline vs the fastest peer (full run)",
            ">= 2x faster than the fastest of papermill, Ploomber, DVC (#16)",
            f"nbtrail {ours:.2f} s vs {others}: **{theirs / ours:.2f}x** the fastest ({best});"
            f" median of {n}; {load}",
            verdict(theirs / ours >= 2.0),
        )
    if "nbtrail" in figs and figs["nbtrail"]["noop"]:
        noop = figs["nbtrail"]["noop"]
        samples = ", ".join(f"{x:.3f}" for x in figs["nbtrail"]["noop_samples"])
        summary.add(
            "4-notebook pipeline: no-op `nbtrail run`",
            "<= 0.1 s, 0 kernels (#16)",
            f"{noop['median']:.3f} s median ({samples} s; the first plans, the next replay),"
            f" {noop['kernels_max']} kernels; {load}",
            verdict(noop["median"] <= 0.1 and noop["kernels_max"] == 0),
        )


if __name__ == "__main__":
    sys.exit(main())
