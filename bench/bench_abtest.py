"""Speed of the evaluation and A/B statistics (issue 5).

Run: .venv/bin/python bench/bench_abtest.py

Times, median of 3 after one warm-up, on synthetic scores:
- evaluate_holdout (5 classification metrics with bootstrap intervals) by holdout size;
- compare_offline (McNemar + paired bootstrap of 3 metrics + Holm + decision);
- group_sequential_design (Lan-DeMets boundaries and inflation factor) by number of looks;
- assign_arms (sha256 sticky assignment) per million ids;
- simulate_sequential (vectorised experiments, 5 looks).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
from _summary import Summary, verdict

from nbtrail.practices import abtest as ab
from nbtrail.practices import evaluation as ev


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    fn()
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def scores(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    a = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)
    b = np.clip(0.40 * y + 0.60 * rng.random(n), 0, 1)
    return y, a, b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--summary", help="write the rows for make_bench here")
    ap.add_argument("--max-rows", type=int, default=100_000, help="largest holdout timed")
    args = ap.parse_args()
    summary = Summary(args.summary)
    figures: dict[str, float] = {}
    print(
        f"machine: nproc={os.cpu_count()} {platform.machine()} python {platform.python_version()}"
    )
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print("\nevaluate_holdout, 5 metrics, n_boot=1000")
    for n in (x for x in (113, 1_000, 10_000, 100_000) if x <= args.max_rows):
        y, a, _ = scores(n)
        s = timed(
            lambda y=y, a=a: ev.evaluate_holdout(y, a, n_boot=1000), repeat=1 if n >= 1e5 else 3
        )
        print(f"  {n:>7} rows: {s:8.3f} s")
        figures[f"evaluate_holdout {n:,} rows"] = s
    print("\ncompare_offline, 3 metrics, n_boot=2000")
    metrics = ["roc_auc", "accuracy", "log_loss"]
    for n in (x for x in (113, 10_000) if x <= args.max_rows):
        y, a, b = scores(n)
        s = timed(lambda y=y, a=a, b=b: ab.compare_offline(y, a, b, metrics=metrics))
        print(f"  {n:>7} rows: {s:8.3f} s")
        figures[f"compare_offline {n:,} rows"] = s
    print("\ngroup_sequential_design")
    for looks in (1, 5, 10, 20):
        s = timed(lambda looks=looks: ab.group_sequential_design(looks))
        print(f"  {looks:>3} looks: {s:8.3f} s")
        figures[f"design {looks} looks"] = s
    ids = [f"user-{i}" for i in range(1_000_000)]
    s = timed(lambda: ab.assign_arms(ids, salt="bench", split=0.5), repeat=1)
    print(f"\nassign_arms: {s:.3f} s per million ids")
    plan = ab.plan_experiment(0.10, 0.02, looks=5)
    n = plan["max_n"]
    s = timed(
        lambda: ab.simulate_sequential(
            0.10, 0.10, n["control"], n["treatment"], plan["design"], n_sims=10_000
        )
    )
    print(f"simulate_sequential: {s:.3f} s for 10,000 experiments of {plan['total_max_n']} users")
    load = f"load {summary.load_start:.1f}-{os.getloadavg()[0]:.1f}"
    summary.add(
        "A/B statistics",
        "(none)",
        f"holdout intervals (113 rows) {figures['evaluate_holdout 113 rows']:.3f} s, offline A/B"
        f" {figures['compare_offline 113 rows']:.3f} s, 5-look design"
        f" {figures['design 5 looks']:.3f} s, 10,000 simulated experiments {s:.2f} s; {load}",
        verdict(None),
    )
    summary.write()


if __name__ == "__main__":
    main()
