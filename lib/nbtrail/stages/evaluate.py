"""The evaluate stage, one call per notebook cell, for every task (binary, multiclass,
regression): holdout metrics (and, for multiclass, per class), slices, behavioural tests,
the baseline, the gates (absolute and relative to the baseline) and the Evidently report.
The A/B steps that follow are in :mod:`nbtrail.stages.evaluate_ab`. Statistics live in
:mod:`nbtrail.practices`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nbtrail.notebook.run import Run
from nbtrail.practices import abtest as ab
from nbtrail.practices import evaluation as ev
from nbtrail.practices.baseline import build_baseline, gain_gate
from nbtrail.practices.slice_choice import choose_slices
from nbtrail.stages.evaluate_inputs import EvaluationInputs

# The metrics compared in the A/B and shown in the summary, the primary (A/B) one first.
DEFAULT_METRICS: dict[str, list[str]] = {
    "binary": ["roc_auc", "accuracy", "log_loss"],
    "multiclass": ["log_loss", "accuracy", "balanced_accuracy", "f1_macro"],
    "regression": ["rmse", "mae", "r2"],
}
_SLICE_METRIC = {"binary": "accuracy", "multiclass": "accuracy", "regression": "mae"}


def primary_and_metrics(
    inputs: EvaluationInputs, primary: str, metrics: Any
) -> tuple[str, list[str]]:
    """``auto`` resolved for the task: the primary metric first, then the metrics compared
    (those the task does not compute on this holdout are left out)."""
    task = inputs.task
    known = ev.metrics_for(task, inputs.y if task == "regression" else None)[0]
    chosen = list(DEFAULT_METRICS[task]) if metrics in (None, "auto") else list(metrics)
    chosen = [m for m in chosen if m in known]
    first = chosen[0] if chosen else DEFAULT_METRICS[task][0]
    main = first if primary in (None, "auto") else primary
    return main, ([main] if main not in chosen else []) + chosen


def holdout_metrics(
    run: Run, inputs: EvaluationInputs, **settings: Any
) -> tuple[dict[str, ev.Interval], dict[str, float | None]]:
    """Every metric of the task with its bootstrap interval, logged (a metric the holdout
    cannot define, MAPE on zero targets, is left out with a note); ``settings`` are
    :func:`~nbtrail.practices.evaluation.evaluate_holdout`'s keyword arguments."""
    target = inputs.bootstrap_target()
    _, notes = ev.metrics_for(inputs.task, inputs.y if inputs.task == "regression" else None)
    if notes:
        run.note("metrics_left_out", notes)
    intervals = ev.evaluate_holdout(inputs.y, inputs.score, **target, **settings)
    values: dict[str, float | None] = {name: iv.value for name, iv in intervals.items()}
    run.log_metrics(values)
    run.log_metrics({f"{name}_ci_low": iv.low for name, iv in intervals.items()})
    run.log_metrics({f"{name}_ci_high": iv.high for name, iv in intervals.items()})
    return intervals, values


def per_class(run: Run, inputs: EvaluationInputs) -> pd.DataFrame | None:
    """Multiclass: precision, recall and F1 of each class on the holdout (point estimates;
    the intervals are on the aggregate metrics), saved as output ``per_class``; None for
    the other tasks."""
    if inputs.task != "multiclass" or inputs.classes is None:
        return None
    codes = ev.class_codes(inputs.y, inputs.classes)
    table = ev.per_class_table(codes, inputs.score, inputs.classes)
    run.save_json("per_class", table.to_dict(orient="records"))
    return table


def slices(
    run: Run,
    inputs: EvaluationInputs,
    spec: Any,
    *,
    metric: str,
    min_rows: int,
    max_gap: float | None,
    threshold: float,
) -> ev.SliceReport:
    """Metrics per slice. ``spec="auto"`` finds slices in the data (recorded in the run);
    with no slices at all the gap is not measured (``worst_slice_gap`` logged as None)."""
    if spec == "auto":
        spec = choose_slices(inputs.holdout, inputs.score, inputs.columns, min_rows=min_rows)
        run.note("slices_chosen", spec)
    report = ev.slice_metrics(
        inputs.holdout,
        inputs.y,
        inputs.score,
        spec or {},
        task=inputs.task,
        metric=_SLICE_METRIC[inputs.task] if metric == "auto" else metric,
        threshold=threshold,
        pos_label=inputs.pos_label,
        classes=inputs.classes,
        min_rows=min_rows,
        max_gap=max_gap,
    )
    run.log_metrics({"worst_slice_gap": report.gap if report.worst else None})
    return report


def slice_summary(report: ev.SliceReport) -> str:
    """One line: the worst slice and its gap, or that no slice was measured."""
    if not report.worst:
        return "no slices measured: the worst-slice gap gate does not apply"
    flag = "  <-- FLAGGED" if report.flagged else ""
    return f"worst slice by {report.metric}: {report.worst}; gap {report.gap:.4f}{flag}"


def styled_slices(report: ev.SliceReport) -> Any:
    """The slice table with the worst slice highlighted."""
    worst = report.worst or {}

    def highlight(row: Any) -> list[str]:
        hit = row["column"] == worst.get("column") and row["slice"] == worst.get("slice")
        return ["background-color: #fdd" if hit else "" for _ in row]

    return report.table.style.format(precision=4).apply(highlight, axis=1)


def behavioural_tests(
    inputs: EvaluationInputs,
    spec: dict[str, Any] | None,
    report: ev.SliceReport,
    min_slice_performance: float | None,
) -> list[ev.TestResult]:
    """The behavioural suite the parameters name, plus minimum performance per slice (a
    multiclass model's directional tests follow the probability of the class they name)."""
    classes = inputs.classes if inputs.task == "multiclass" else None
    tests = ev.behavioural_suite(inputs.predict, inputs.holdout, spec or {}, classes=classes)
    if min_slice_performance is not None and report.table.shape[0]:
        tests += ev.min_slice_performance_test(report, min_slice_performance)
    return tests


def baseline_scores(run: Run, inputs: EvaluationInputs, *, kind: str, seed: int) -> np.ndarray:
    """Fit the baseline on the training rows the model was trained on; its holdout scores."""
    frame = inputs.train[inputs.columns]
    model = build_baseline(frame, kind=kind, task=inputs.task, seed=seed)
    model.fit(frame, inputs.train[inputs.target])
    run.note("baseline", {"kind": kind, "estimator": type(model[-1]).__name__})
    return inputs.scores_of(model, inputs.holdout)


def compare(
    inputs: EvaluationInputs, opponent_score: np.ndarray, **settings: Any
) -> dict[str, Any]:
    """The paired comparison of ``opponent_score`` (as the champion) with the model's
    scores; ``settings`` are :func:`~nbtrail.practices.abtest.compare_offline`'s."""
    return ab.compare_offline(
        inputs.y, opponent_score, inputs.score, **inputs.bootstrap_target(), **settings
    )


def judge(
    run: Run,
    inputs: EvaluationInputs,
    values: dict[str, float | None],
    intervals: dict[str, ev.Interval],
    *,
    gates: dict[str, float | None],
    baseline_comparison: dict[str, Any],
    tests: list[ev.TestResult],
    slice_report: ev.SliceReport,
    min_gain: float | None,
    alpha: float,
    gate_on: str,
    require_tests: bool,
) -> tuple[list[ev.GateResult], bool, list[str]]:
    """Check the absolute gates the parameters set and the relative gate over the
    baseline, record every gate and test as a verdict and the whole evaluation as output
    ``evaluation``; returns the gates, whether everything required passed, and the gates
    that do not apply (a metric the task lacks, one the holdout cannot define, or nothing
    to measure)."""
    bounds, not_applicable = ev.gates_for_task(dict(gates), inputs.task)
    measured = {k: v for k, v in values.items() if v is not None}
    own = ev.METRICS_BY_TASK[inputs.task]
    for name in list(bounds):
        metric = name.partition("_")[2]
        unmeasured = metric in own and metric not in values  # MAPE on zero targets
        if unmeasured or (metric in values and values[metric] is None):
            not_applicable.append(name)
            del bounds[name]
    results = ev.check_gates(measured, bounds, intervals=intervals, on=gate_on)
    relative = gain_gate(baseline_comparison, min_gain=min_gain, alpha=alpha)
    if relative is not None:
        results.append(relative)
    for g in results:
        run.verdict(
            f"gate_{g.name}",
            passed=g.passed,
            value=g.value,
            bound=g.bound,
            op=g.op,
            detail=g.describe(),
        )
    for t in tests:
        run.verdict(f"test_{t.name}", passed=t.passed, value=t.value, bound=t.bound, kind=t.kind)
    passed = all(g.passed for g in results) and (not require_tests or all(t.passed for t in tests))
    run.save_json(
        "evaluation",
        {
            "task": inputs.task,
            "classes": ev.plain(inputs.classes),  # numpy labels as JSON numbers, not text
            "positive_class": ev.plain(inputs.pos_label),
            "intervals": {k: v.to_dict() for k, v in intervals.items()},
            "slices": slice_report.to_dict(),
            "tests": [t.to_dict() for t in tests],
            "gates": [g.to_dict() for g in results],
            "not_applicable": not_applicable,
            "passed": passed,
        },
    )
    return results, passed, not_applicable


def scored_frame(inputs: EvaluationInputs, score: np.ndarray) -> pd.DataFrame:
    """The holdout's target beside ``score``, as Evidently's reports read them: ``score``
    (binary: positive-class probability; regression: prediction), or for multiclass the
    predicted label and one probability column per class, named by the class as the target
    is written."""
    if inputs.task != "multiclass" or inputs.classes is None:
        return pd.DataFrame({"target": inputs.y.to_numpy(), "score": score})
    names = [str(c) for c in inputs.classes]
    frame = pd.DataFrame(np.asarray(score), columns=names)
    frame["target"] = inputs.y.astype(str).to_numpy()
    frame["prediction"] = np.asarray(names, dtype=object)[np.asarray(score).argmax(axis=1)]
    return frame


def quality_report(
    inputs: EvaluationInputs,
    score: np.ndarray,
    *,
    threshold: float,
    reference_score: np.ndarray | None = None,
) -> Any:
    """Evidently's preset for the task on the scored holdout (with ``reference_score``,
    the opponent's scores as the reference, side by side)."""
    multiclass = inputs.task == "multiclass" and inputs.classes is not None
    columns: Any = [str(c) for c in inputs.classes or []] if multiclass else "score"
    reference = None if reference_score is None else scored_frame(inputs, reference_score)
    return ev.evidently_report(
        scored_frame(inputs, score),
        target="target",
        score=columns,
        prediction="prediction" if multiclass else None,
        task=inputs.task,
        pos_label=inputs.pos_label,
        threshold=threshold,
        reference=reference,
    )
