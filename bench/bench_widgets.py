"""Benchmark: the run browser's redraw after a filter change, over an index of 10,000 runs.

Builds the synthetic workspace of ``bench_index.py`` (2,500 data -> train -> evaluate ->
export chains, 10,000 validated records), indexes it, then times ``widgets.runs()`` in an
IPython kernel (ipykernel, started with jupyter_client as JupyterLab starts one, so every
widget change is also sent as a comm message): building the browser, and each filter change
from setting the field's value to the redrawn table, selection list and detail (the observer
runs synchronously in the kernel). Median (min) of ``--repeat`` changes after one warm-up.
``compare()``'s redraw (a matplotlib picture) is timed beside it.

    .venv/bin/python bench/bench_widgets.py [--runs 10000] [--repeat 11] [--keep]

Target (issue 13): filter change -> redraw <= 200 ms in the kernel.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))

from _summary import Summary, verdict  # noqa: E402
from bench_index import generate  # noqa: E402

from nbtrail.core.workspace import Workspace  # noqa: E402
from nbtrail.runs import index  # noqa: E402

# Runs in the kernel: prints one JSON line of {case: [median_ms, min_ms]}.
KERNEL_CODE = r"""
import json, statistics, time
from nbtrail import widgets

def timed(fn, repeat):
    fn(1)  # warm-up: the other value, so every timed call changes the field
    times = []
    for i in range(repeat):
        t = time.perf_counter(); fn(i); times.append(time.perf_counter() - t)
    return [round(statistics.median(times) * 1000, 1), round(min(times) * 1000, 1)]

REPEAT = {repeat}
out = {{}}
t = time.perf_counter(); b = widgets.runs(ws={root!r}); out["open the browser (all stages, newest 25)"] = [round((time.perf_counter() - t) * 1000, 1)] * 2

def toggle(widget, a, c):
    return lambda i=0: setattr(widget, "value", a if i % 2 == 0 else c)

out["stage: any <-> evaluate"] = timed(toggle(b.stage, "evaluate", ""), REPEAT)
b.stage.value = "evaluate"
out["sort (stage evaluate): newest <-> roc_auc"] = timed(toggle(b.sort, "roc_auc", ""), REPEAT)
b.sort.value = "roc_auc"
out["sort direction (by roc_auc)"] = timed(toggle(b.ascending, True, False), REPEAT)
b.ascending.value = False
out["metric filter: '' <-> roc_auc>0.95"] = timed(toggle(b.metrics, "roc_auc>0.95", ""), REPEAT)
b.metrics.value, b.sort.value, b.stage.value = "", "", "train"
out["param filter (stage train): '' <-> C=0.5"] = timed(toggle(b.params, "C=0.5", ""), REPEAT)
b.params.value, b.stage.value = "", ""
out["status: any <-> failed (no match)"] = timed(toggle(b.status, "failed", ""), REPEAT)
b.status.value = ""
out["page size: 25 <-> 100 rows"] = timed(toggle(b.limit, 100, 25), REPEAT)
b.stage.value, b.limit.value = "evaluate", 25
first, second = [v for _, v in b.pick.options][:2]
out["select one run (detail, lineage)"] = timed(lambda i=0: b.select(first) if i % 2 == 0 else b.select(second), REPEAT)
out["select two runs (diff)"] = timed(lambda i=0: (b.select(), b.select(first, second)), REPEAT)
c = widgets.compare("evaluate", "roc_auc", ws={root!r})
out["compare(evaluate, roc_auc): params '' <-> n_boot=200 (the newest 1,000 of 2,500 drawn)"] = timed(toggle(c.params, "n_boot=200", ""), max(3, REPEAT // 3))
print("RESULT " + json.dumps(out))
"""


def in_kernel(root: Path, repeat: int) -> dict[str, list[float]]:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(root))
    lines: list[str] = []

    def hook(msg: dict) -> None:
        if msg["msg_type"] == "stream":
            lines.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            lines.append("\n".join(msg["content"]["traceback"]))

    try:
        code = KERNEL_CODE.format(repeat=repeat, root=str(root))
        kc.execute_interactive(code, output_hook=hook, timeout=1800)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    text = "".join(lines)
    for line in text.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line.removeprefix("RESULT "))
    raise SystemExit(f"the kernel printed no result:\n{text[-3000:]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=11)
    ap.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    ap.add_argument("--root", type=Path, help="reuse a workspace a --keep run left")
    ap.add_argument("--summary", help="write the rows for make_bench here")
    args = ap.parse_args()
    summary = Summary(args.summary)
    tmp = args.root.parent if args.root else Path(tempfile.mkdtemp(prefix="nbtrail-bench-widgets-"))
    root = tmp / "project"
    try:
        load = os.getloadavg()[0]
        print(f"machine: {os.cpu_count()} cpus, {platform.machine()}, "
              f"python {platform.python_version()}, load {load:.1f}")  # fmt: skip
        if not args.root:
            (root / "params").mkdir(parents=True)
            (root / "params" / "pipeline.yaml").write_text("version: 1\nstages: {}\n")
            ws = Workspace(root)
            t = time.perf_counter()
            generate(ws, args.runs)
            index.rebuild(ws)
            print(f"{args.runs:,} runs generated and indexed in {time.perf_counter() - t:.1f} s")
        print(f"{len(index.query_runs(Workspace(root))):,} runs in the index")
        results = in_kernel(root, args.repeat)
        width = max(len(k) for k in results)
        print(f"{'in the kernel (ms)':<{width}}  median     min")
        for case, (med, low) in results.items():
            print(f"{case:<{width}}  {med:>6.1f}  {low:>6.1f}")
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        changes = {k: v for k, v in results.items() if "compare" not in k and "build" not in k}
        worst = max(med for med, _ in changes.values()) if changes else float("nan")
        summary.add(
            f"run browser (`widgets.runs()`), {args.runs:,} runs",
            "filter change -> redraw <= 200 ms in the kernel (#13)",
            "; ".join(f"{k} {med:.1f} ms" for k, (med, _) in results.items())
            + f" (median of {args.repeat}); load {summary.load_start:.1f}-{os.getloadavg()[0]:.1f}",
            verdict(worst <= 200),
        )
        summary.write()
    finally:
        if args.keep or args.root:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
