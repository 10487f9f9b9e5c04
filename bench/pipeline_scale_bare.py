"""The work of nbtrail's five stages in one plain Python process: the "bare" side of
``bench/pipeline_scale.py``.

    .venv/bin/python bench/pipeline_scale_bare.py --csv FILE.csv --params PARAMS.json \
        --workdir DIR --out RESULT.json

``PARAMS.json`` holds the stage parameters in force (``{stage: {name: value}}``, resolved by the
driver from the project's params/*.yaml, the notebooks' parameter cells and the ``-p``
overrides), so this script computes with the very values the pipeline runs with.

What it does, phase by phase, as the stage notebooks do it:

* data: ``pandas.read_csv``, the data stage's expectations, the train/holdout/reference split;
* train: the same scikit-learn pipeline (``build_pipeline``), ``cv_folds``-fold
  ``cross_val_score``, the final fit, the model written once with skops;
* evaluate: holdout scores, bootstrap intervals (``n_boot`` resamples), slice metrics,
  behavioural tests, gates, Evidently's classification report saved as HTML;
* export: the ONNX conversion and the parity check on every holdout row, ``model.onnx`` written
  (a conversion that skl2onnx refuses is recorded, not raised: the export stage fails on it, and
  the driver checks that both failed the same way);
* monitor: the three demo batches, their drift and degradation verdicts, one Evidently drift
  report per batch saved as HTML.

The numerical work calls the same pure functions the stages call (``nbtrail.practices``:
``sources.split`` and ``Expectations``, ``training.build_pipeline``, ``evaluation``,
``export.to_onnx`` / ``check_parity``, ``monitoring``): they take frames and return values, and
touch no workspace, so the results are the pipeline's to the last digit (the driver checks).
What it leaves out is nbtrail itself: no CLI, runner, kernels or papermill, no snapshot in the
object store, no run records, index, lineage or registry, no skops reload in each stage, no
bundle folder or its fresh-Python smoke test, no monitoring history or its plot.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, required=True)
    ap.add_argument("--params", type=Path, required=True)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    params = json.loads(args.params.read_text())
    args.workdir.mkdir(parents=True, exist_ok=True)
    phases: dict[str, float] = {}
    results: dict[str, Any] = {}

    def timed(name: str, fn: Any, *a: Any) -> Any:
        start = time.perf_counter()
        out = fn(*a)
        phases[name] = round(time.perf_counter() - start, 3)
        return out

    snapshot = timed("data", data_phase, args.csv, params["data"], results)
    model, columns = timed("train", train_phase, snapshot, params, args.workdir, results)
    timed("evaluate", evaluate_phase, snapshot, model, columns, params, args.workdir, results)
    timed("export", export_phase, snapshot, model, columns, params["export"], args.workdir, results)
    timed("monitor", monitor_phase, snapshot, model, columns, params, args.workdir, results)
    phases["process_in_main"] = round(time.perf_counter() - t0, 3)
    args.out.write_text(json.dumps({"phases": phases, "results": results}, indent=1))
    return 0


def data_phase(csv: Path, p: dict[str, Any], results: dict[str, Any]) -> Any:
    import pandas as pd

    from nbtrail.practices.sources import Expectations, split

    raw = pd.read_csv(csv)
    Expectations(
        target=p["target"],
        id_column=p["id_column"],
        time_column=p["time_column"],
        min_rows=p["min_rows"],
        max_missing_share=p["max_missing_share"],
    ).check(raw)
    snapshot = split(
        raw,
        target=p["target"],
        holdout_fraction=p["holdout_fraction"],
        reference_fraction=p["reference_fraction"],
        seed=p["seed"],
        time_column=p["time_column"],
    )
    results["rows"] = {k: int(v) for k, v in snapshot.groupby("_split").size().items()}
    return snapshot


def train_phase(
    snapshot: Any, params: dict[str, Any], workdir: Path, results: dict[str, Any]
) -> tuple[Any, list[str]]:
    import skops.io as sio
    from sklearn.model_selection import cross_val_score

    from nbtrail.practices.sources import part
    from nbtrail.practices.training import build_pipeline, feature_columns, task_of

    p, d = params["train"], params["data"]
    train = part(snapshot, "train")
    exclude = [c for c in (d["id_column"], d["time_column"]) if c]
    columns = feature_columns(train, d["target"], p["features"], exclude)
    X, y = train[columns], train[d["target"]]
    task = task_of(y)
    hyper = {k: p[k] for k in ("learning_rate", "max_depth", "n_estimators", "C")}
    pipe = build_pipeline(X, model=p["model"], task=task, seed=p["seed"], hyper=hyper)
    if task == "classification":
        scoring = "roc_auc" if y.nunique() == 2 else "accuracy"
    else:
        scoring = "r2"
    scores = cross_val_score(pipe, X, y, cv=p["cv_folds"], scoring=scoring)
    pipe.fit(X, y)
    sio.dump(pipe, workdir / "model.skops")
    results[f"cv_{scoring}"] = float(scores.mean())
    return pipe, columns


def evaluate_phase(
    snapshot: Any,
    model: Any,
    columns: list[str],
    params: dict[str, Any],
    workdir: Path,
    results: dict[str, Any],
) -> None:
    import pandas as pd

    from nbtrail.practices import evaluation as ev
    from nbtrail.practices.sources import part

    p, target = params["evaluate"], params["data"]["target"]
    holdout = part(snapshot, "holdout").reset_index(drop=True)
    y = holdout[target]
    task = ev.infer_task(y)
    pos_label = model.classes_[1] if task == "classification" else None
    predict = ev.score_function(model, task, columns)
    score = predict(holdout)
    ev.validate_plan(holdout, slices=p["slices"], behavioural=p["behavioural"])
    intervals = ev.evaluate_holdout(
        y,
        score,
        task=task,
        threshold=p["threshold"],
        pos_label=pos_label,
        n_boot=p["n_boot"],
        level=p["level"],
        seed=p["seed"],
    )
    values = {name: iv.value for name, iv in intervals.items()}
    report = ev.slice_metrics(
        holdout,
        y,
        score,
        p["slices"],
        task=task,
        metric=p["slice_metric"],
        threshold=p["threshold"],
        pos_label=pos_label,
        min_rows=p["min_slice_rows"],
        max_gap=p["max_worst_slice_gap"],
    )
    values["worst_slice_gap"] = report.gap
    tests = ev.behavioural_suite(predict, holdout, p["behavioural"])
    if p["min_slice_performance"] is not None and report.table.shape[0]:
        tests += ev.min_slice_performance_test(report, p["min_slice_performance"])
    names = ("min_roc_auc", "max_log_loss", "min_accuracy", "max_calibration_error")
    bounds = {k: p[k] for k in (*names, "max_worst_slice_gap")}
    bounds, _ = ev.gates_for_task(bounds, task)
    gates = ev.check_gates(values, bounds, intervals=intervals, on=p["gate_on"])
    scored = pd.DataFrame({"target": y.to_numpy(), "score": score})
    snap = ev.evidently_report(
        scored,
        target="target",
        score="score",
        task=task,
        pos_label=pos_label,
        threshold=p["threshold"],
    )
    snap.save_html(str(workdir / "evidently_quality.html"))
    results["metrics"] = {k: float(v) for k, v in values.items()}
    results["gates_passed"] = all(g.passed for g in gates) and all(t.passed for t in tests)


def export_phase(
    snapshot: Any,
    model: Any,
    columns: list[str],
    p: dict[str, Any],
    workdir: Path,
    results: dict[str, Any],
) -> None:
    from nbtrail.core.errors import DataError
    from nbtrail.practices import export
    from nbtrail.practices.sources import part

    train_X = part(snapshot, "train")[columns]
    holdout_X = part(snapshot, "holdout")[columns]
    try:
        onnx_bytes, spec = export.to_onnx(model, train_X)
    except DataError as exc:  # the export stage fails on the same error: the driver compares
        results["export_error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return
    parity = export.check_parity(
        model, onnx_bytes, holdout_X, spec, tolerance=p["parity_tolerance"]
    )
    (workdir / "model.onnx").write_bytes(onnx_bytes)
    results["parity_max_abs_diff"] = parity["max_abs_diff"]


def monitor_phase(
    snapshot: Any,
    model: Any,
    columns: list[str],
    params: dict[str, Any],
    workdir: Path,
    results: dict[str, Any],
) -> None:
    from nbtrail.practices import monitoring as m
    from nbtrail.practices.sources import part

    p, target = params["monitor"], params["data"]["target"]
    if p["batch"] != "demo":
        raise SystemExit("the bare script runs the demo batches only (monitor.batch=demo)")
    reference = part(snapshot, "reference")
    baseline = results["metrics"].get("accuracy")
    config = m.MonitorConfig(
        alpha=p["alpha"],
        min_effect=p["min_effect"],
        drift_share_fail=p["drift_share_fail"],
        max_drop=p["max_drop"],
        fail_on_extra_columns=p["fail_on_extra_columns"],
        report_rows=p["report_rows"],
        seed=p["seed"],
    )
    batches = m.demo_batches(
        reference,
        target=target,
        rows=p["demo_rows"],
        seed=p["seed"],
        shift_sd=p["demo_shift_sd"],
        features=columns,
    )
    verdicts = m.check_batches(
        reference, batches, config, target=target, model=model, baseline=baseline, features=columns
    )
    for v in verdicts:
        snap = m.drift_report(
            reference, batches[v.batch], v, config, target=target, model=model, features=columns
        )
        snap.save_html(str(workdir / f"drift_{v.batch}.html"))
    m.check_expected(verdicts, m.DEMO_EXPECTED)
    results["monitor"] = {v.batch: v.status for v in verdicts}


if __name__ == "__main__":
    raise SystemExit(main())
