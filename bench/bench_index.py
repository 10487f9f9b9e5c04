"""Benchmark: the run index over 10,000 runs: `nbtrail index rebuild`, `nbtrail runs` and
`nbtrail lineage` as whole processes, and the library calls behind them.

Builds a synthetic workspace in a temporary folder: 2,500 data -> train -> evaluate -> export
chains (10,000 records, each validated with ``records.validate``, with the executed notebook
and output files a completed run leaves), builds the index, then times each command as a whole
process (median of ``--repeat``, after one warm-up) and the library calls (median (min)).

    .venv/bin/python bench/bench_index.py [--runs 10000] [--repeat 5] [--keep] [--summary PATH]

Targets (issue 16): `nbtrail index rebuild` of 10,000 records <= 2 s; `nbtrail runs` and
`nbtrail lineage` over 10,000 runs <= 100 ms each, as whole processes. ``--summary PATH``
writes the rows for BENCHMARKS.md (``make bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIB = REPO / "lib"
sys.path.insert(0, str(LIB))

from nbtrail.core.hashing import hash_bytes  # noqa: E402
from nbtrail.core.workspace import Workspace  # noqa: E402
from nbtrail.runs import index, lineage, records  # noqa: E402

NOTEBOOK = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'
PACKAGES = {f"package-{i:02d}": f"1.{i}.0" for i in range(60)}


def _record(stage: str, n: int, **kw) -> dict:
    hh, rest = divmod(n, 3600)
    mm, ss = divmod(rest, 60)
    day = 1 + hh // 24
    run_id = f"{stage}-202611{day:02d}T{hh % 24:02d}{mm:02d}{ss:02d}-{n:06x}"
    started = f"2026-11-{day:02d}T{hh % 24:02d}:{mm:02d}:{ss:02d}.000+00:00"
    rec = {
        "schema_version": 1,
        "run_id": run_id,
        "stage": stage,
        "origin": "runner",
        "status": "completed",
        "params": {},
        "notebook": {
            "path": f"notebooks/{stage}.ipynb",
            "hash": hash_bytes(f"nb-{stage}".encode()),
            "code_hash": hash_bytes(f"code-{stage}".encode()),
            "executed": f"workspace/runs/{run_id}/{stage}.ipynb",
        },
        "upstream": {},
        "inputs": [],
        "outputs": {},
        "metrics": {},
        "verdicts": {},
        "fingerprint": hash_bytes(f"fp-{run_id}".encode()),
        "cached_from": None,
        "reproduces": None,
        "git": {"commit": "c0ffee" * 6 + "beef", "dirty": False},
        "environment": {
            "python": "3.11.9",
            "platform": "Linux-x86_64",
            "packages": PACKAGES,
            "lock_hash": "1" * 64,
        },
        "started": started,
        "ended": started,
        "duration_s": 1.5,
        "pid": None,
        "error": None,
    }
    rec.update(kw)
    return rec


def _art(name, kind, digest, *, path=None, ref=None, stage=None, run_id=None) -> dict:
    return {"name": name, "kind": kind, "path": path, "digest": digest, "ref": ref,
            "stage": stage, "run_id": run_id}  # fmt: skip


def generate(ws: Workspace, n_runs: int) -> list[str]:
    """Write ``n_runs`` validated records (chains of 4); returns the export run ids."""
    exports = []
    n = 0
    for chain in range(n_runs // 4):
        ver = chain // 50 + 1  # 50 chains per dataset version
        raw = _art("raw", "dataset", hash_bytes(f"raw{ver}".encode()), ref=f"default@{ver}")
        snap_digest = hash_bytes(f"snap{ver}".encode())
        data = _record("data", n, params={"seed": chain % 5}, inputs=[raw])
        data["outputs"] = {
            "snapshot": _art("snapshot", "dataset", snap_digest, ref=f"snapshot@{ver}")
        }
        snap_in = _art("snapshot", "dataset", snap_digest, ref=f"snapshot@{ver}", stage="data",
                       run_id=data["run_id"])  # fmt: skip
        train = _record("train", n + 1, params={"C": [0.1, 0.5, 1.0, 2.0][chain % 4],
                        "max_iter": 200, "seed": chain % 5}, inputs=[snap_in])  # fmt: skip
        tid = train["run_id"]
        model = _art("model", "model", hash_bytes(f"model{chain}".encode()),
                     path=f"workspace/runs/{tid}/outputs/model.skops")  # fmt: skip
        train["outputs"] = {"model": model}
        train["metrics"] = {"train_auc": 0.9 + (chain % 97) / 1000}
        train["upstream"] = {"data": data["run_id"]}
        evaluate = _record("evaluate", n + 2, params={"n_boot": 200},
                           inputs=[dict(model, stage="train", run_id=tid), snap_in])  # fmt: skip
        eid = evaluate["run_id"]
        evaluate["upstream"] = {"train": tid, "data": data["run_id"]}
        evaluate["outputs"] = {
            "report": _art(
                "report",
                "report",
                hash_bytes(f"rep{chain}".encode()),
                path=f"workspace/runs/{eid}/outputs/report.html",
            )  # fmt: skip
        }
        evaluate["metrics"] = {
            "roc_auc": 0.85 + (chain * 7919 % 1000) / 7000,
            "accuracy": 0.8 + (chain * 104729 % 1000) / 6000,
            "brier": 0.05 + (chain % 13) / 100,
        }
        export = _record("export", n + 3, inputs=[dict(model, stage="train", run_id=tid)])
        xid = export["run_id"]
        export["upstream"] = {"train": tid, "evaluate": eid}
        export["outputs"] = {"model": dict(model, path=f"workspace/runs/{xid}/outputs/model.onnx")}
        for rec in (data, train, evaluate, export):
            records.validate(rec, where=rec["run_id"])
            folder = ws.run_dir(rec["run_id"])
            folder.mkdir(parents=True)
            (folder / records.RECORD_FILE).write_text(json.dumps(rec, indent=2, sort_keys=True))
            (ws.root / rec["notebook"]["executed"]).write_text(NOTEBOOK)
            for art in rec["outputs"].values():  # the files a completed run leaves
                if art.get("path"):
                    (ws.root / art["path"]).parent.mkdir(exist_ok=True)
                    (ws.root / art["path"]).write_bytes(b"x")
        exports.append(xid)
        n += 4
    return exports


def _time(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, min(times) * 1000


def _cli(argv: list[str], env: dict[str, str], cpu: list[float] | None = None) -> str:
    """Run one process; append its CPU time (user + system, s) to ``cpu``: a figure the
    other engineers' load moves far less than the wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{argv} failed: {proc.stderr}")
    if cpu is not None:
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return proc.stdout


def _load() -> float:
    return os.getloadavg()[0]


def _ms(value: float) -> str:
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def _drop_index(ws: Workspace) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{ws.index_path}{suffix}").unlink(missing_ok=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    ap.add_argument("--summary", type=Path, help="write the figures as JSON (for make bench)")
    args = ap.parse_args()
    t_start, load_start = time.perf_counter(), _load()

    tmp = Path(tempfile.mkdtemp(prefix="nbtrail-bench-index-"))
    root = tmp / "project"
    (root / "params").mkdir(parents=True)
    (root / "params" / "pipeline.yaml").write_text("version: 1\nstages: {}\n")
    ws = Workspace(root)
    n = args.runs
    rows: list[dict[str, str]] = []
    cmd = f".venv/bin/python bench/bench_index.py --runs {n} --repeat {args.repeat}"
    try:
        print(
            f"machine: {os.cpu_count()} cpus, {platform.machine()}, "
            f"python {platform.python_version()}, load {load_start:.1f}"
        )
        t = time.perf_counter()
        exports = generate(ws, n)
        print(
            f"generated {len(exports) * 4:,} validated records in {time.perf_counter() - t:.1f} s"
        )
        env = dict(os.environ, PYTHONPATH=str(LIB))
        py = sys.executable
        cli = [py, "-m", "nbtrail", "-C", str(root)]
        target = f"{exports[len(exports) // 2]}:model"
        middle = f"default@{max(1, len(exports) // 100)}"  # a data version halfway through

        # the index missing: the first query rebuilds it, validating every record in full
        t = time.perf_counter()
        _cli([*cli, "runs"], env)
        cold = (time.perf_counter() - t) * 1000
        print(f"first `nbtrail runs` without an index (rebuilds it): {_ms(cold)}")

        proc_cases = {
            "nbtrail index rebuild": ([*cli, "index", "rebuild"], "<= 2 s", 2000.0),
            "nbtrail index rebuild --verify": ([*cli, "index", "rebuild", "--verify"], "", None),
            "nbtrail runs": ([*cli, "runs"], "<= 100 ms", 100.0),
            "nbtrail runs --stage evaluate --sort roc_auc": (
                [*cli, "runs", "--stage", "evaluate", "--sort", "roc_auc"],
                "<= 100 ms",
                100.0,
            ),
            "nbtrail lineage EXPORT:model": ([*cli, "lineage", target], "<= 100 ms", 100.0),
            "nbtrail lineage EXPORT:model --json": (
                [*cli, "lineage", target, "--json"],
                "<= 100 ms",
                100.0,
            ),
            "python -c pass (the interpreter alone)": ([py, "-c", "pass"], "", None),
            "python -c 'import nbtrail.cli; build_parser()' (start-up, no query)": (
                [py, "-c", "import nbtrail.cli as c; c.build_parser()"],
                "",
                None,
            ),
        }
        print(f"\nwhole processes, median (min) of {args.repeat} after a warm-up, load at start:")
        for name, (argv, target_text, limit) in proc_cases.items():
            load = _load()
            _cli(argv, env)  # warm
            cpu: list[float] = []
            med, low = _time(lambda argv=argv, cpu=cpu: _cli(argv, env, cpu), args.repeat)
            cpu_ms = statistics.median(cpu) * 1000
            print(f"  {name:<58} {_ms(med):>9} ({_ms(low)})  cpu {_ms(cpu_ms):>8}  load {load:.1f}")
            area = name.replace("EXPORT", "X").replace("--json", "--json")
            rows.append(
                {
                    "area": f"index: `{area}`"
                    + (f" over {n:,} runs" if area.startswith("nbtrail") else ""),
                    "target": target_text or "none",
                    "measured": f"{_ms(med)} median of {args.repeat} (min {_ms(low)}; "
                    f"CPU {_ms(cpu_ms)}), load {load:.1f}",
                    "verdict": "no target"
                    if limit is None
                    else ("met" if med <= limit else "not met"),
                    "command": cmd,
                }
            )
        rows.append(
            {
                "area": f"index: first `nbtrail runs` with the index deleted ({n:,} runs, rebuilt)",
                "target": "none",
                "measured": f"{_ms(cold)} (one run), load {load_start:.1f}",
                "verdict": "no target",
                "command": cmd,
            }
        )

        def ensure_full() -> None:  # as after a run folder was added: list the folder
            con = index.connect(ws)
            con.execute("DELETE FROM run_index_meta WHERE key = 'runs_dir_mtime'")
            con.close()
            index.ensure(ws)

        lib_cases = {
            "index.rebuild (records unchanged: shape checked)": lambda: index.rebuild(ws),
            "index.rebuild(verify=True) (every record validated)": lambda: index.rebuild(
                ws, verify=True
            ),
            "ensure (no change)": lambda: index.ensure(ws),
            "ensure (runs folder changed: full listing)": ensure_full,
            "runs (newest 20)": lambda: index.query_runs(ws, limit=20),
            "runs --stage evaluate --sort roc_auc --limit 20": lambda: index.query_runs(
                ws, stage="evaluate", sort_by="roc_auc", limit=20
            ),
            "runs --param C=0.5 --metric train_auc>0.95 (all)": lambda: index.query_runs(
                ws, params={"C": 0.5}, metrics=["train_auc>0.95"]
            ),
            "lineage EXPORT:model (tree)": lambda: lineage.render_tree(
                lineage.upstream(ws, target)
            ),
            f"impact {middle} (tree)": lambda: lineage.render_tree(lineage.impact(ws, middle)),
        }
        extra = [_record("train", 900_000 + i, params={"C": 1.0}) for i in range(2 * args.repeat)]
        alone = iter(extra[: args.repeat])
        held = iter(extra[args.repeat :])
        lib_cases["upsert one record (no other connection open)"] = lambda: index.upsert(
            ws, next(alone)
        )
        lib_cases["upsert one record (inside index.held_open)"] = lambda: index.upsert(
            ws, next(held)
        )
        print(f"\nlibrary calls, median (min) of {args.repeat}:")
        for name, fn in lib_cases.items():
            if name.startswith("upsert"):
                index.upsert(ws, _record("train", 990_000 + len(name)))  # warm
                if "held_open" in name:
                    with index.held_open(ws):
                        med, low = _time(fn, args.repeat)
                else:
                    med, low = _time(fn, args.repeat)
            else:
                fn()  # warm
                med, low = _time(fn, args.repeat)
            print(f"  {name:<62} {_ms(med):>9} ({_ms(low)})")
        print("\nlineage output sample:")
        print(lineage.render_tree(lineage.upstream(ws, target)))
    finally:
        if args.keep:
            print(f"\nworkspace kept at {root}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    load_end = _load()
    print(f"\nload average: {load_start:.1f} at start, {load_end:.1f} at end")
    if args.summary:
        args.summary.write_text(
            json.dumps(
                {
                    "rows": rows,
                    "load": [load_start, load_end],
                    "seconds": round(time.perf_counter() - t_start, 1),
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
