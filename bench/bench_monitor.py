"""Monitoring benchmarks: report and notebook weight, rendering, false alarms, 1M x 25 scale.

    .venv/bin/python bench/bench_monitor.py            # weight + simulation (about a minute)
    .venv/bin/python bench/bench_monitor.py --render   # + headless Chromium: file://, nbconvert
                                                       #   HTML and JupyterLab (needs chromium)
    nice .venv/bin/python bench/bench_monitor.py --scale   # + 1,000,000 x 25 (several minutes,
                                                           #   ~2.5 GB for Evidently alone)

Everything is written under a temporary folder; nothing in the repository changes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _summary import Summary, verdict

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

NOTEBOOK_SETUP = """\
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from nbtrail.practices import monitoring as m, reports
from nbtrail.stages import monitor as stage
from nbtrail.core.workspace import Workspace
ws = Workspace(Path(ROOT))
df = load_breast_cancer(as_frame=True).frame
df.columns = [c.replace(" ", "_") for c in df.columns]
split = np.random.default_rng(0).choice(["train", "reference"], size=len(df), p=(0.7, 0.3))
feats = [c for c in df.columns if c != "target"]
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
model.fit(df[split == "train"][feats], df[split == "train"]["target"])
ref = df[split == "reference"].reset_index(drop=True)
batches = stage.demo_batches(ref, seed=0)
verdicts = m.check_batches(ref, batches, model=model)
snaps = [m.drift_report(ref, batches[v.batch], v, model=model) for v in verdicts]
"""


def mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 100_000 else f"{n / 1e3:.1f} KB"


def make_ws(base: Path) -> Path:
    root = base / "project"
    (root / "params").mkdir(parents=True)
    (root / "params" / "pipeline.yaml").write_text("version: 1\nstages: {}\n")
    (root / "workspace" / "runs" / "monitor-demo").mkdir(parents=True)
    return root


def notebook(cells: list[str]) -> dict:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    return nb


def execute(nb, path: Path, cwd: Path) -> float:
    import nbformat
    from nbclient import NotebookClient

    t = time.perf_counter()
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()
    nbformat.write(nb, path)
    return time.perf_counter() - t


def to_html(path: Path) -> Path:
    subprocess.run(
        [PY, "-m", "jupyter", "nbconvert", "--to", "html", str(path)],
        check=True,
        capture_output=True,
    )
    return path.with_suffix(".html")


def weight(base: Path) -> dict:
    """Executed notebook and nbconvert HTML: Evidently's inline display vs show_report."""
    root = make_ws(base)
    run = root / "workspace" / "runs" / "monitor-demo"
    head = f"from pathlib import Path\nROOT = {str(root)!r}\n" + NOTEBOOK_SETUP
    before = notebook([head, "snaps[0]", "snaps[1]", "snaps[2]"])
    after = notebook(
        [
            head,
            *[
                f"reports.show_report(snaps[{i}], ws, path=Path(ROOT) / "
                f"'workspace/runs/monitor-demo/outputs/{v}.html', "
                f"notebook_dir=Path(ROOT) / 'workspace/runs/monitor-demo')"
                for i, v in enumerate(("clean", "covariate_drift", "concept_drift"))
            ],
        ]
    )
    out = {}
    for name, nb in (("before", before), ("after", after)):
        path = run / f"monitor_{name}.ipynb"
        secs = execute(nb, path, run)
        html = to_html(path)
        out[name] = {"notebook": path.stat().st_size, "html": html.stat().st_size, "secs": secs}
    pages = sorted((run / "outputs").glob("*.html"))
    out["pages"] = {p.name: p.stat().st_size for p in pages}
    out["assets"] = {p.name: p.stat().st_size for p in (root / "workspace" / "assets").iterdir()}
    out["root"] = str(root)
    return out


def simulate(reps: int = 2000) -> dict:
    """False-alarm rate and power of the batch verdict (same set-up as the tests, more reps)."""
    import numpy as np
    import pandas as pd

    from nbtrail.practices import monitoring as m

    def frame(rng, n, shift=0.0, cat_p=(0.5, 0.3, 0.2)):
        d = {f"x{i}": rng.normal(size=n) for i in range(10)}
        d["x0"] = d["x0"] + shift
        d["c0"] = rng.choice(["a", "b", "c"], size=n, p=cat_p)
        d["c1"] = rng.choice(["u", "v"], size=n)
        return pd.DataFrame(d)

    def rate(config, n, **kw):
        rng = np.random.default_rng(99)
        return (
            sum(
                not m.check_batch(
                    frame(rng, 500), frame(rng, 200, **kw), config, target=None
                ).passed
                for _ in range(n)
            )
            / n
        )

    t = time.perf_counter()
    res = {
        "reps": reps,
        "false_alarm_bh": rate(m.MonitorConfig(min_effect=0.0), reps),
        "false_alarm_bh_effect_floor": rate(m.MonitorConfig(), reps),
        "power_shift_0.5sd": rate(m.MonitorConfig(), reps // 4, shift=0.5),
        "power_shift_0.3sd": rate(m.MonitorConfig(), reps // 4, shift=0.3),
        "power_cat_tv_0.2": rate(m.MonitorConfig(), reps // 4, cat_p=(0.3, 0.3, 0.4)),
    }
    res["secs"] = time.perf_counter() - t
    return res


# -- rendering in a real browser -------------------------------------------------------------

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _drawn(frame) -> int:
    """How many elements Evidently drew into its root (0 when the bundle did not load)."""
    return frame.evaluate(
        "() => { const r = document.querySelector('[id^=root_]');"
        " return r ? r.querySelectorAll('*').length : -1; }"
    )


def _frame_drawn(page, timeout_s: float = 30) -> list[int]:
    end = time.time() + timeout_s
    counts: list[int] = []
    while time.time() < end:
        counts = []
        for f in page.frames[1:]:
            try:
                counts.append(_drawn(f))
            except Exception:
                counts.append(-2)
        if counts and all(c > 50 for c in counts):
            break
        time.sleep(0.5)
    return counts


def render(w: dict) -> dict:
    from playwright.sync_api import sync_playwright

    root = Path(w["root"])
    run = root / "workspace" / "runs" / "monitor-demo"
    out: dict = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        report = run / "outputs" / "covariate_drift.html"
        page.goto(report.as_uri())
        page.wait_for_timeout(3000)
        out["file_page_elements"] = _drawn(page)
        page.goto((run / "monitor_after.html").as_uri())
        page.wait_for_timeout(2000)
        out["nbconvert_html_iframes_elements"] = _frame_drawn(page)
        out["lab"] = _render_lab(browser, root, run)
        browser.close()
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _render_lab(browser, root: Path, run: Path) -> dict:
    """Open the executed (signed) notebook in JupyterLab and count what the reports drew."""
    from nbtrail.pipeline import signing

    data_dir = root / "jupyter-data"
    env = {**os.environ, "JUPYTER_DATA_DIR": str(data_dir), "JUPYTER_CONFIG_DIR": str(root / "jc")}
    nb = run / "monitor_after.ipynb"
    result: dict = {}
    port, token = _free_port(), "benchtoken"
    cmd = [
        PY, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_root=True", "--LabApp.news_url=None",
        "--LabServerApp.extra_labextensions_path=[]",
    ]  # fmt: skip
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(120):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.5)
        rel = nb.relative_to(root).as_posix()
        for trusted in (False, True):
            if trusted:
                signing.trust_notebook(nb, str(data_dir))
            page = browser.new_page(viewport={"width": 1400, "height": 4000})
            page.goto(f"http://127.0.0.1:{port}/lab/tree/{rel}?token={token}&reset")
            try:
                page.wait_for_selector(".jp-OutputArea-output", timeout=60_000)
            except Exception as exc:  # report, do not crash the benchmark
                result[f"trusted={trusted}"] = f"no outputs: {exc}".splitlines()[0]
                page.close()
                continue
            page.wait_for_timeout(3000)
            for _ in range(3):  # Lab renders visible cells only: scroll through
                page.mouse.wheel(0, 3000)
                page.wait_for_timeout(1000)
            iframes = page.locator(".jp-OutputArea-output iframe").count()
            result[f"trusted={trusted}"] = {
                "iframes": iframes,
                "drawn_elements_per_report": _frame_drawn(page, 20),
            }
            page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return result


# -- 1,000,000 x 25 --------------------------------------------------------------------------

SCALE_DATA = """
import numpy as np, pandas as pd
def data(n, seed, shift):
    rng = np.random.default_rng(seed)
    d = {f"num_{i}": rng.normal(size=n) + (shift if i < 2 else 0.0) for i in range(20)}
    for j in range(5):
        d[f"cat_{j}"] = pd.Categorical(rng.choice(list("abcdefgh"), size=n))
    return pd.DataFrame(d)
ref = data(ROWS, 1, 0.0)
cur = data(ROWS, 2, 0.05)
"""

SCALE_NBTRAIL = """
import time, tempfile
from pathlib import Path
t0 = time.perf_counter()
from nbtrail.practices import monitoring as m, reports
from nbtrail.core.workspace import Workspace
t1 = time.perf_counter()
v = m.check_batch(ref, cur, m.MonitorConfig(), target=None, name="1M")
t2 = time.perf_counter()
snap = m.drift_report(ref, cur, v)
t3 = time.perf_counter()
root = Path(tempfile.mkdtemp())
(root / "params").mkdir(); (root / "params/pipeline.yaml").write_text("version: 1\\nstages: {}\\n")
page = reports.save_report(snap, root / "r.html", Workspace(root))
t4 = time.perf_counter()
print(json.dumps({"verdict_s": t2 - t1, "report_s": t3 - t2, "save_s": t4 - t3,
                  "import_s": t1 - t0, "page_bytes": page.stat().st_size,
                  "summary": v.summary, "drifted": v.drifted_columns}))
"""

SCALE_EVIDENTLY = """
import time
t0 = time.perf_counter()
from evidently import Report, Dataset, DataDefinition
from evidently.presets import DataDriftPreset
t1 = time.perf_counter()
dd = DataDefinition(numerical_columns=[f"num_{i}" for i in range(20)],
                    categorical_columns=[f"cat_{j}" for j in range(5)])
snap = Report([DataDriftPreset()]).run(Dataset.from_pandas(cur, data_definition=dd),
                                        Dataset.from_pandas(ref, data_definition=dd))
t2 = time.perf_counter()
share = [x["value"] for x in snap.dict()["metrics"] if "DriftedColumnsCount" in x["metric_name"]]
print(json.dumps({"preset_s": t2 - t1, "import_s": t1 - t0, "drifted": share}))
"""


def run_child(body: str, rows: int = 1_000_000) -> dict:
    code = (
        f"import json, resource\nROWS = {int(rows)}\n"
        + SCALE_DATA
        + body
        + textwrap.dedent(
            """
        print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
        """
        )
    )
    t = time.perf_counter()
    proc = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:], "wall_s": wall}
    out: dict = {"wall_s": wall}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            out.update(json.loads(line))
    return out


def data_only(rows: int = 1_000_000) -> dict:
    return run_child("", rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--render", action="store_true", help="check rendering in headless Chromium")
    ap.add_argument("--scale", action="store_true", help="1,000,000 x 25 vs DataDriftPreset")
    ap.add_argument("--skip-evidently-full", action="store_true")
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--scale-rows", type=int, default=1_000_000, help="rows of the --scale check")
    ap.add_argument("--summary", help="write the rows for make_bench here")
    args = ap.parse_args()
    summary = Summary(args.summary)
    res: dict = {"python": sys.version.split()[0], "nproc": os.cpu_count()}
    base = Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    try:
        w = weight(base)
        res["weight"] = {k: v for k, v in w.items() if k != "root"}
        print("executed notebook, 3 reports shown:")
        for k in ("before", "after"):
            print(
                f"  {k:6s} notebook {mb(w[k]['notebook'])}, nbconvert HTML {mb(w[k]['html'])}"
                f" (executed in {w[k]['secs']:.1f} s)"
            )
        print("  report pages:", ", ".join(f"{n} {mb(s)}" for n, s in w["pages"].items()))
        print(
            "  shared assets (once per workspace):",
            ", ".join(f"{n} {mb(s)}" for n, s in w["assets"].items()),
        )
        if args.render and not Path("/usr/bin/chromium").is_file():
            print("render: skipped, /usr/bin/chromium not installed (apt-get install chromium)")
        elif args.render:
            r = render(w)
            res["render"] = r
            print("render:", json.dumps(r, indent=1))
        s = simulate(args.reps)
        res["simulation"] = s
        print("simulation:", json.dumps(s, indent=1))
        if args.scale:
            n = f"{args.scale_rows:,} x 25"
            print(f"{n}: data generation only ...", flush=True)
            res["scale_data_only"] = data_only(args.scale_rows)
            print(" ", res["scale_data_only"], flush=True)
            print(f"{n}: nbtrail verdict (all rows) + report (50k sample) ...", flush=True)
            res["scale_nbtrail"] = run_child(SCALE_NBTRAIL, args.scale_rows)
            print(" ", res["scale_nbtrail"], flush=True)
            if not args.skip_evidently_full:
                print(f"{n}: Evidently DataDriftPreset alone, all rows ...", flush=True)
                res["scale_evidently"] = run_child(SCALE_EVIDENTLY, args.scale_rows)
                print(" ", res["scale_evidently"], flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "monitor.json").write_text(json.dumps(res, indent=2, default=str))
    print(f"written {out / 'monitor.json'}")
    add_summary_rows(summary, res, args.scale_rows)
    summary.write()
    return 0


def add_summary_rows(summary: Summary, res: dict, rows: int) -> None:
    load = f"load {summary.load_start:.1f}-{os.getloadavg()[0]:.1f}"
    w = res["weight"]
    after = w["after"]["notebook"]
    summary.add(
        "executed monitor notebook",
        "< 1 MB, Evidently bundle stored once (#6)",
        f"{mb(w['before']['notebook'])} before -> **{mb(after)}** after; {load}",
        verdict(after < 1_000_000),
    )
    sim = res["simulation"]
    summary.add(
        "monitor verdict: false alarms and power (simulated)",
        "(none)",
        f"false alarm {sim['false_alarm_bh_effect_floor']:.3f} with the effect floor,"
        f" power {sim['power_shift_0.5sd']:.2f} at a 0.5 SD shift; {sim['reps']} reps; {load}",
        verdict(None),
    )
    if "scale_nbtrail" in res:
        ours, theirs = res["scale_nbtrail"], res.get("scale_evidently", {})
        if "error" in ours:
            measured = f"nbtrail's check failed: {ours['error']}"
        else:
            measured = (
                f"{rows:,} x 25: nbtrail {ours['wall_s']:.1f} s, {ours['peak_rss_mb'] / 1024:.2f}"
                f" GB; Evidently DataDriftPreset alone {theirs.get('wall_s', float('nan')):.1f} s,"
                f" {theirs.get('peak_rss_mb', float('nan')) / 1024:.2f} GB; {load}"
            )
        summary.add(
            f"monitor at scale ({rows:,} rows)",
            "within memory; compare with DataDriftPreset alone (#6; full size 1,000,000)",
            measured,
            verdict(None) if rows < 1_000_000 else verdict("error" not in ours),
        )


if __name__ == "__main__":
    sys.exit(main())
