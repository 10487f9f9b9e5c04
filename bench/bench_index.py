"""Benchmark: `nbtrail runs` and `nbtrail lineage` over an index of 10,000 runs.

Builds a synthetic workspace in a temporary folder: 2,500 data -> train -> evaluate -> export
chains (10,000 records, each validated with ``records.validate``), builds the index, then
times the queries as library calls and as whole CLI processes (median of several runs).

    .venv/bin/python bench/bench_index.py [--runs 10000] [--repeat 7] [--keep]

Target (issue 4): <= 200 ms each.
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


ONLY_QUERY_VERBS = """
import argparse, sys
from pathlib import Path
from nbtrail.commands import runs
from nbtrail.core.workspace import Workspace
p = argparse.ArgumentParser(prog="nbtrail")
runs.register(p.add_subparsers())
a = p.parse_args(sys.argv[2:])
sys.exit(a.func(a, Workspace(Path(sys.argv[1]))))
"""


def _time(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, min(times) * 1000


def _cli(argv: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{argv} failed: {proc.stderr}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="nbtrail-bench-index-"))
    root = tmp / "project"
    (root / "params").mkdir(parents=True)
    (root / "params" / "pipeline.yaml").write_text("version: 1\nstages: {}\n")
    ws = Workspace(root)
    try:
        print(
            f"machine: {os.cpu_count()} cpus, {platform.machine()}, python {platform.python_version()}"
        )
        t = time.perf_counter()
        exports = generate(ws, args.runs)
        print(f"generated {len(exports) * 4} validated records in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        report = index.rebuild(ws)
        print(f"index rebuild: {report.indexed} runs in {time.perf_counter() - t:.2f} s "
              f"({len(report.problems)} problems)")  # fmt: skip
        target = f"{exports[len(exports) // 2]}:model"

        def ensure_full() -> None:  # as after a run folder was added: list the folder
            con = index.connect(ws)
            con.execute("DELETE FROM run_index_meta WHERE key = 'runs_dir_mtime'")
            con.close()
            index.ensure(ws)

        lib_cases = {
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
            "impact default@25 (tree)": lambda: lineage.render_tree(
                lineage.impact(ws, "default@25")
            ),
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
        print(f"\nlibrary calls, median (min) of {args.repeat}, ms:")
        results = {}
        for name, fn in lib_cases.items():
            if name.startswith("upsert"):
                index.upsert(ws, _record("train", 990_000 + len(results)))  # warm
                if "held_open" in name:
                    with index.held_open(ws):
                        med, low = _time(fn, args.repeat)
                else:
                    med, low = _time(fn, args.repeat)
            else:
                fn()  # warm
                med, low = _time(fn, args.repeat)
            results[name] = med
            print(f"  {name:<55} {med:8.1f} ({low:.1f})")

        env = dict(os.environ, PYTHONPATH=str(LIB))
        py = sys.executable
        cli = [py, "-m", "nbtrail", "-C", str(root)]
        proc_cases = {
            "python -c pass": [py, "-c", "pass"],
            "python -c 'import nbtrail.cli; build_parser()'": [
                py,
                "-c",
                "import nbtrail.cli as c; c.build_parser()",
            ],  # fmt: skip
            "nbtrail runs": [*cli, "runs"],
            "nbtrail runs --stage evaluate --sort roc_auc": [
                *cli,
                "runs",
                "--stage",
                "evaluate",
                "--sort",
                "roc_auc",
            ],  # fmt: skip
            "nbtrail lineage EXPORT:model": [*cli, "lineage", target],
            "nbtrail lineage EXPORT:model --json": [*cli, "lineage", target, "--json"],
            # the same handlers with only this module's verbs registered: what the CLI costs
            # when the other verb modules keep their imports lazy
            "[query verbs only] runs --stage evaluate --sort roc_auc": [
                py,
                "-c",
                ONLY_QUERY_VERBS,
                str(root),
                "runs",
                "--stage",
                "evaluate",
                "--sort",
                "roc_auc",
            ],  # fmt: skip
            "[query verbs only] lineage EXPORT:model": [
                py,
                "-c",
                ONLY_QUERY_VERBS,
                str(root),
                "lineage",
                target,
            ],  # fmt: skip
        }
        print(f"\nwhole CLI processes, median (min) of {args.repeat}, ms:")
        for name, argv in proc_cases.items():
            _cli(argv, env)  # warm
            med, low = _time(lambda argv=argv: _cli(argv, env), args.repeat)
            results[name] = med
            print(f"  {name:<55} {med:8.1f} ({low:.1f})")
        print("\nlineage output sample:")
        print(lineage.render_tree(lineage.upstream(ws, target)))
    finally:
        if args.keep:
            print(f"\nworkspace kept at {root}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
