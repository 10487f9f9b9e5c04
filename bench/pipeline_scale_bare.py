"""The work of nbtrail's five stages in one plain Python process: the "bare" side of
``bench/pipeline_scale.py``.

    .venv/bin/python bench/pipeline_scale_bare.py --csv FILE.csv --params PARAMS.json \
        --workdir DIR --out RESULT.json

``PARAMS.json`` holds the stage parameters in force (``{stage: {name: value}}``, resolved by the
driver from the project's params/*.yaml, the notebooks' parameter cells and the ``-p``
overrides), so this script computes with the very values the pipeline runs with.

Each phase follows its notebook (``notebooks/0N_*.ipynb``) cell by cell, calling the library
functions the stage modules (``lib/nbtrail/stages/*.py``) call, with the same arguments, minus
what only nbtrail does (recording, storing, registering, displaying):

* data: ``read_source`` (CSV sniffing), ``prepare_columns``, the ``Expectations``, ``split``;
* train: ``plan_features``, ``build_pipeline``, ``cv_folds``-fold ``cross_val_score``, the fit,
  the model written once with skops;
* evaluate: the holdout scored, the bootstrap intervals of every metric of the task, slices
  (``choose_slices`` when ``auto``), behavioural tests, the baseline (``dummy``/``linear``)
  fitted on the training rows and the paired comparison with it, the gates (absolute and the
  relative gain gate), Evidently's quality report, the A/B decision against the baseline with
  its effect plot, the side-by-side Evidently report, the simulated online experiment
  (classifiers), the gates enforced;
* export: the evaluation's verdicts checked, input and output schemas, the ONNX conversion,
  parity on every holdout row, the bundle written (skops copy, ONNX, schemas, metrics, card,
  loader, manifest), its loader run in a fresh Python (the smoke test);
* monitor: the demo plan and its three batches, their verdicts (drift, degradation), one
  Evidently drift report per batch, the history of this run's verdicts plotted, the expected
  demo verdicts enforced.

Left out, because they are nbtrail itself (the overhead measured): the CLI, runner, kernels and
papermill, the run records, metrics and verdicts logged, the snapshot and demo batches
versioned in the object store, the skops reload in each stage, the index, lineage, registry
(register, promote, bundle digest), the bundle's copy to ``workspace/exports``, the monitoring
history's log and index, the widgets and the notebooks' displayed tables. Reports are saved
with Evidently's own ``save_html`` (the pipeline saves compacted pages sharing one script).
Any phase that cannot run raises: the process exits non-zero and the driver stops.
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
    if Path(params["data"]["source"]).resolve() != args.csv.resolve():
        raise SystemExit(f"--csv {args.csv} is not data.source {params['data']['source']}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    phases: dict[str, float] = {}
    results: dict[str, Any] = {}

    def timed(name: str, fn: Any, *a: Any) -> Any:
        start = time.perf_counter()
        out = fn(*a)
        phases[name] = round(time.perf_counter() - start, 3)
        return out

    wd = args.workdir
    snapshot = timed("data", data_phase, args.csv, params["data"], results)
    model, columns, task = timed("train", train_phase, snapshot, params, wd, results)
    evaluation = timed("evaluate", evaluate_phase, snapshot, model, columns, task, params, wd)
    results["metrics"] = evaluation["metrics"]
    results["decision"] = evaluation["decision"]
    timed("export", export_phase, snapshot, model, columns, evaluation, params, wd, results)
    timed("monitor", monitor_phase, snapshot, model, columns, task, params, wd, results)
    phases["process_in_main"] = round(time.perf_counter() - t0, 3)
    args.out.write_text(json.dumps({"phases": phases, "results": results}, indent=1))
    return 0


def data_phase(csv: Path, p: dict[str, Any], results: dict[str, Any]) -> Any:
    """01_data: read, prepare, check, split (the snapshot is not versioned)."""
    from nbtrail.practices import sources as src

    loaded = src.read_source(str(csv), csv.parent, delimiter=p["delimiter"], encoding=p["encoding"])
    prepared = src.prepare_columns(
        loaded.frame,
        target=p["target"],
        id_column=p["id_column"],
        time_column=p["time_column"],
        drop_columns=p["drop_columns"],
    )
    src.Expectations(
        target=p["target"],
        id_column=p["id_column"],
        time_column=p["time_column"],
        min_rows=p["min_rows"],
        max_missing_share=p["max_missing_share"],
        min_class_rows=p["min_class_rows"],
    ).check(prepared.frame)
    snapshot = src.split(
        prepared.frame,
        target=p["target"],
        holdout_fraction=p["holdout_fraction"],
        reference_fraction=p["reference_fraction"],
        seed=p["seed"],
        method=p["split"],
        time_column=p["time_column"],
    )
    results["rows"] = {k: int(v) for k, v in snapshot.groupby("_split").size().items()}
    return snapshot


def train_phase(
    snapshot: Any, params: dict[str, Any], workdir: Path, results: dict[str, Any]
) -> tuple[Any, list[str], str]:
    """02_train: features planned, cross-validated, fitted, written with skops."""
    import skops.io as sio
    from sklearn.model_selection import cross_val_score

    from nbtrail.practices.sources import part
    from nbtrail.practices.training import build_pipeline, plan_features, task_of

    p, d = params["train"], params["data"]
    target = d["target"]
    train = part(snapshot, "train")
    exclude = [c for c in (d["id_column"], d["time_column"]) if c]
    columns = plan_features(train, target, p["features"], exclude).columns
    X, y = train[columns], train[target]
    task = task_of(y)
    hyper = {k: p[k] for k in ("learning_rate", "max_depth", "n_estimators", "C")}
    pipe = build_pipeline(
        X, model=p["model"], task=task, seed=p["seed"], hyper=hyper,
        max_categories=p["max_categories"],
    )  # fmt: skip
    scoring = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "r2"}[task]
    scores = cross_val_score(pipe, X, y, cv=p["cv_folds"], scoring=scoring)
    pipe.fit(X, y)
    sio.dump(pipe, workdir / "model.skops")
    results[f"cv_{scoring}"] = float(scores.mean())
    results["task"] = task
    return pipe, list(columns), task


def evaluate_phase(
    snapshot: Any,
    model: Any,
    columns: list[str],
    task: str,
    params: dict[str, Any],
    workdir: Path,
) -> dict[str, Any]:
    """03_evaluate, cell by cell (the registry's decision and the widget left out)."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np

    from nbtrail.practices import abtest as ab
    from nbtrail.practices import evaluation as ev
    from nbtrail.practices.baseline import build_baseline, gain_gate
    from nbtrail.practices.slice_choice import choose_slices
    from nbtrail.practices.sources import part
    from nbtrail.practices.tasks import is_classification, positive_class
    from nbtrail.stages import evaluate as stage
    from nbtrail.stages.evaluate_ab import correctness
    from nbtrail.stages.evaluate_inputs import EvaluationInputs

    p, target = params["evaluate"], params["data"]["target"]
    boot, slicing, gates, threshold = p["bootstrap"], p["slicing"], p["gates"], p["threshold"]
    # load_inputs: the model in memory (the stage reloads it from skops), no champion (a fresh
    # workspace has none: the pipeline meets the baseline too)
    holdout = part(snapshot, "holdout").reset_index(drop=True)
    train = part(snapshot, "train").reset_index(drop=True)
    classes = list(model.classes_) if is_classification(task) else None
    pos_label = positive_class(classes, p["positive_class"]) if task == "binary" else None
    named_slices = p["slices"] if isinstance(p["slices"], (dict, list)) else None
    ev.validate_plan(
        holdout,
        slices=named_slices,
        behavioural=p["behavioural"],
        classes=classes if task == "multiclass" else None,
    )
    inputs = EvaluationInputs(
        model=model,
        model_digest="",
        model_name="",
        columns=columns,
        target=target,
        task=task,
        classes=classes,
        pos_label=pos_label,
        train=train,
        holdout=holdout,
        y=holdout[target],
        score=np.empty(0),
        champion=None,
    )
    inputs.score = inputs.predict(holdout)
    primary, compared = stage.primary_and_metrics(inputs, p["primary_metric"], p["ab_metrics"])
    # holdout metrics with bootstrap intervals; per class (multiclass)
    intervals = ev.evaluate_holdout(
        inputs.y, inputs.score, **inputs.bootstrap_target(), threshold=threshold, **boot
    )
    values: dict[str, float | None] = {name: iv.value for name, iv in intervals.items()}
    if task == "multiclass" and classes is not None:
        ev.per_class_table(ev.class_codes(inputs.y, classes), inputs.score, classes)
    # slices
    spec = p["slices"]
    if spec == "auto":
        spec = choose_slices(holdout, inputs.score, columns, min_rows=slicing["min_rows"])
    metric = slicing["metric"]
    slice_report = ev.slice_metrics(
        holdout,
        inputs.y,
        inputs.score,
        spec or {},
        task=task,
        metric=stage._SLICE_METRIC[task] if metric == "auto" else metric,
        threshold=threshold,
        pos_label=pos_label,
        classes=classes,
        min_rows=slicing["min_rows"],
        max_gap=gates.get("max_worst_slice_gap"),
    )
    values["worst_slice_gap"] = slice_report.gap if slice_report.worst else None
    # behavioural tests
    tests = stage.behavioural_tests(
        inputs, p["behavioural"], slice_report, slicing["min_performance"]
    )
    # the baseline, fitted on the training rows, and the paired comparison with it
    ab_settings = dict(
        primary=primary, metrics=compared, threshold=threshold, alpha=p["alpha"],
        level=boot["level"], seed=boot["seed"], **p["ab_options"],
    )  # fmt: skip
    frame = train[columns]
    base = build_baseline(frame, kind=p["baseline"], task=task, seed=boot["seed"])
    base.fit(frame, train[target])
    baseline_score = inputs.scores_of(base, holdout)
    baseline_comparison = stage.compare(inputs, baseline_score, **ab_settings)
    # the gates (stage.judge without its verdicts and JSON output)
    bounds, _ = ev.gates_for_task(dict(gates), task)
    own = ev.METRICS_BY_TASK[task]
    for name in list(bounds):
        m = name.partition("_")[2]
        if (m in own and m not in values) or (m in values and values[m] is None):
            del bounds[name]
    measured = {k: v for k, v in values.items() if v is not None}
    gate_results = ev.check_gates(measured, bounds, intervals=intervals, on=p["gate_on"])
    relative = gain_gate(
        baseline_comparison, min_gain=p["min_gain_over_baseline"], alpha=p["alpha"]
    )
    if relative is not None:
        gate_results.append(relative)
    gates_passed = all(g.passed for g in gate_results) and (
        not p["require_tests"] or all(t.passed for t in tests)
    )
    # Evidently's quality report
    stage.quality_report(inputs, inputs.score, threshold=threshold).save_html(
        str(workdir / "evidently_quality.html")
    )
    # the A/B against the baseline (no champion), its effect plot, the side-by-side report
    comparison = dict(baseline_comparison)
    comparison.update(
        ab.decide(
            comparison["metrics"],
            primary=comparison["primary"],
            alpha=p["alpha"],
            min_improvement=ab_settings.get("min_improvement", 0.0),
            max_degradation=ab_settings.get("max_degradation"),
            challenger_gates_passed=gates_passed,
            intervals=comparison.get("adjusted_intervals"),
        )
    )
    fig = ab.effect_plot(comparison).figure
    fig.savefig(workdir / "ab_effect.png")
    stage.quality_report(
        inputs, inputs.score, threshold=threshold, reference_score=baseline_score
    ).save_html(str(workdir / "evidently_ab.html"))
    # the simulated online experiment (stage online_experiment without its records)
    if inputs.classification:
        o = p["online"]
        ok_champion = correctness(inputs, baseline_score, threshold)
        ok_challenger = correctness(inputs, inputs.score, threshold)
        p_control = float(np.clip(ok_champion.mean(), 0.01, 0.99 - o["mde"]))
        plan = ab.plan_experiment(
            p_control, o["mde"], alpha=p["alpha"], power=o["power"], split=o["split"],
            looks=o["looks"],
        )  # fmt: skip
        ab.run_online_experiment(
            [f"entity-{i:07d}" for i in range(plan["total_max_n"])],
            salt=o["salt"],
            split=o["split"],
            p_control=p_control,
            p_treatment=p_control + o["mde"],
            design=plan["design"],
            seed=boot["seed"],
            row_outcomes=(ok_champion, ok_challenger),
        )
    ev.raise_for_gates(gate_results + (tests if p["require_tests"] else []))
    return {
        "metrics": {k: float(v) for k, v in values.items() if v is not None},
        "intervals": {k: v.to_dict() for k, v in intervals.items()},
        "slices": slice_report.to_dict().get("slices") or [],
        "verdicts": {
            **{f"gate_{g.name}": {"passed": g.passed} for g in gate_results},
            **{f"test_{t.name}": {"passed": t.passed} for t in tests},
        },
        "decision": comparison["decision"],
    }


def export_phase(
    snapshot: Any,
    model: Any,
    columns: list[str],
    evaluation: dict[str, Any],
    params: dict[str, Any],
    workdir: Path,
    results: dict[str, Any],
) -> None:
    """04_export: refusal check, schemas, ONNX, parity, bundle, smoke test (no registry, no
    copy to workspace/exports)."""
    from nbtrail.practices import export
    from nbtrail.practices.sources import dataset_name_for, part

    p = params["export"]
    name = p["model_name"] or dataset_name_for(str(params["data"]["source"]))
    verdicts = export.check_evaluation(
        {"status": "completed", "verdicts": evaluation["verdicts"]},
        model=name,
        required=p["required_verdicts"],
    )
    train_X = part(snapshot, "train")[columns]
    holdout_X = part(snapshot, "holdout")[columns]
    schema = export.input_schema(train_X, enforce_ranges=p["enforce_ranges"])
    export.output_schema_for(model)
    onnx_model, spec = export.to_onnx(model, train_X)
    parity = export.check_parity(
        model, onnx_model, holdout_X, spec, tolerance=p["parity_tolerance"]
    )
    bundle = export.write_bundle(
        model,
        workdir / "bundle",
        name=name,
        version=1,
        onnx=onnx_model,
        onnx_spec=spec,
        parity=parity,
        schema=schema,
        holdout_features=holdout_X,
        verdicts=verdicts,
        evaluation_run=None,
        metrics=evaluation["intervals"],
        slices=evaluation["slices"],
        intended_use=p["intended_use"],
        overwrite=True,
    )
    smoke = export.smoke_test(bundle.path)
    (bundle.path / "model_card.md").read_text()
    results["parity_max_abs_diff"] = parity["max_abs_diff"]
    results["smoke_rows"] = len(smoke["predictions"])


def monitor_phase(
    snapshot: Any,
    model: Any,
    columns: list[str],
    task: str,
    params: dict[str, Any],
    workdir: Path,
    results: dict[str, Any],
) -> None:
    """05_monitor: demo batches, verdicts, drift reports, history plot, expected verdicts
    (the batches not versioned, the history not logged or indexed)."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from nbtrail.practices import monitoring as m
    from nbtrail.practices.sources import part
    from nbtrail.stages.demo_batches import DEMO, DEMO_EXPECTED, demo_batches, demo_plan

    p, target = params["monitor"], params["data"]["target"]
    if p["batch"] != DEMO:
        raise SystemExit("the bare script runs the demo batches only (monitor.batch=demo)")
    reference = part(snapshot, "reference")
    task_m = m.monitor_task(model, task)  # monitor_baselines: demo batches have no baseline
    config = m.MonitorConfig.from_params(p)
    plan = demo_plan(
        reference,
        target=target,
        features=columns,
        shift_sd=p["demo_shift_sd"],
        rows=p["demo_rows"],
        seed=p["seed"],
        task=task_m,
    )
    batches = demo_batches(reference, plan, target=target, features=columns)
    verdicts = m.check_batches(
        reference, batches, config, target=target, model=model, baseline=None,
        features=columns, task=task_m,
    )  # fmt: skip
    for v in verdicts:
        snap = m.drift_report(
            reference, batches[v.batch], v, config, target=target, model=model, features=columns
        )
        snap.save_html(str(workdir / f"drift_{v.batch}.html"))
    history = pd.DataFrame(
        [
            {
                "run_id": "bare",
                "batch": v.batch,
                "seq": i,
                "created": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
                "status": v.status,
                "kind": v.kind,
                "rows": v.rows,
                "drift_share": v.drift_share,
                "n_drifted": len(v.drifted_columns),
                "metric": v.metric,
                "metric_value": v.metric_value,
                "baseline": v.baseline,
                "top_columns": list(v.top_columns(5)),
                "summary": v.summary,
            }
            for i, v in enumerate(verdicts)
        ]
    ).tail(p["history_points"])
    fig = m.plot_history(history, drift_share_fail=p["drift_share_fail"])
    fig.savefig(workdir / "history.png", dpi=90)
    m.check_expected(verdicts, DEMO_EXPECTED)
    results["monitor"] = {v.batch: v.status for v in verdicts}


if __name__ == "__main__":
    raise SystemExit(main())
