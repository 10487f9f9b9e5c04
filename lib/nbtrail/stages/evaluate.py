"""The evaluate stage, one call per notebook cell: holdout metrics, slices, behavioural
tests, the gates (absolute and relative to a baseline), the paired A/B comparison with the
champion (or, before there is one, with the baseline), the simulated online experiment and
the decision that reaches the registry. Statistics live in :mod:`nbtrail.practices`.
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
from nbtrail.stages.champion import apply_decision
from nbtrail.stages.evaluate_inputs import EvaluationInputs

_DEFAULT_METRICS = {
    "classification": ["roc_auc", "accuracy", "log_loss"],
    "regression": ["rmse", "mae", "r2"],
}
_SLICE_METRIC = {"classification": "accuracy", "regression": "mae"}


def primary_and_metrics(task: str, primary: str, metrics: Any) -> tuple[str, list[str]]:
    """``auto`` resolved for ``task``: the primary metric first, then the metrics compared
    (those the task does not compute are left out)."""
    known = ev.CLASSIFICATION_METRICS if task == "classification" else ev.REGRESSION_METRICS
    chosen = list(_DEFAULT_METRICS[task]) if metrics in (None, "auto") else list(metrics)
    chosen = [m for m in chosen if m in known]
    first = chosen[0] if chosen else _DEFAULT_METRICS[task][0]
    main = first if primary in (None, "auto") else primary
    return main, ([main] if main not in chosen else []) + chosen


def holdout_metrics(
    run: Run, inputs: EvaluationInputs, **settings: Any
) -> tuple[dict[str, ev.Interval], dict[str, float | None]]:
    """Every metric of the task with its bootstrap interval, logged; ``settings`` are
    :func:`~nbtrail.practices.evaluation.evaluate_holdout`'s keyword arguments."""
    intervals = ev.evaluate_holdout(
        inputs.y, inputs.score, task=inputs.task, pos_label=inputs.pos_label, **settings
    )
    values: dict[str, float | None] = {name: iv.value for name, iv in intervals.items()}
    run.log_metrics(values)
    run.log_metrics({f"{name}_ci_low": iv.low for name, iv in intervals.items()})
    run.log_metrics({f"{name}_ci_high": iv.high for name, iv in intervals.items()})
    return intervals, values


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
    """The behavioural suite the parameters name, plus minimum performance per slice."""
    tests = ev.behavioural_suite(inputs.predict, inputs.holdout, spec or {})
    if min_slice_performance is not None and report.table.shape[0]:
        tests += ev.min_slice_performance_test(report, min_slice_performance)
    return tests


def baseline_scores(run: Run, inputs: EvaluationInputs, *, kind: str, seed: int) -> np.ndarray:
    """Fit the baseline on the training rows the model was trained on; its holdout scores."""
    frame = inputs.train[inputs.columns]
    model = build_baseline(frame, kind=kind, task=inputs.task, seed=seed)
    model.fit(frame, inputs.train[inputs.target])
    run.note("baseline", {"kind": kind, "estimator": type(model[-1]).__name__})
    return np.asarray(ev.score_function(model, inputs.task, inputs.columns)(inputs.holdout))


def compare(
    inputs: EvaluationInputs, opponent_score: np.ndarray, **settings: Any
) -> dict[str, Any]:
    """The paired comparison of ``opponent_score`` (as the champion) with the model's
    scores; ``settings`` are :func:`~nbtrail.practices.abtest.compare_offline`'s."""
    return ab.compare_offline(
        inputs.y,
        opponent_score,
        inputs.score,
        task=inputs.task,
        pos_label=inputs.pos_label,
        **settings,
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
    that do not apply (a metric the task lacks, or nothing to measure)."""
    bounds, not_applicable = ev.gates_for_task(dict(gates), inputs.task)
    measured = {k: v for k, v in values.items() if v is not None}
    for name in list(bounds):
        metric = name.partition("_")[2]
        if metric in values and values[metric] is None:
            not_applicable.append(name)
            del bounds[name]
    results = ev.check_gates(measured, bounds, intervals=intervals, on=gate_on)
    relative = gain_gate(baseline_comparison, min_gain=min_gain, alpha=alpha)
    if relative is not None:
        results.append(relative)
    for g in results:
        run.verdict(f"gate_{g.name}", passed=g.passed, value=g.value, bound=g.bound, op=g.op)
    for t in tests:
        run.verdict(f"test_{t.name}", passed=t.passed, value=t.value, bound=t.bound, kind=t.kind)
    passed = all(g.passed for g in results) and (not require_tests or all(t.passed for t in tests))
    run.save_json(
        "evaluation",
        {
            "task": inputs.task,
            "intervals": {k: v.to_dict() for k, v in intervals.items()},
            "slices": slice_report.to_dict(),
            "tests": [t.to_dict() for t in tests],
            "gates": [g.to_dict() for g in results],
            "not_applicable": not_applicable,
            "passed": passed,
        },
    )
    return results, passed, not_applicable


def versus(
    run: Run,
    inputs: EvaluationInputs,
    *,
    baseline_score: np.ndarray,
    baseline_comparison: dict[str, Any],
    baseline_kind: str,
    gates_passed: bool,
    **settings: Any,
) -> tuple[dict[str, Any], dict[str, Any], np.ndarray, str]:
    """The A/B of the model against the champion, or against the baseline while there is no
    other champion: (decision, comparison, the opponent's scores, who the opponent is).
    Against the baseline, ``promote`` makes the model the first champion."""
    champion = inputs.champion
    if champion is not None and champion["digest"] != inputs.model_digest:
        opponent = f"champion {inputs.champion_label()} (run {champion['run_id']})"
        opponent_score = ev.score_function(champion["model"], inputs.task, inputs.columns)(
            inputs.holdout
        )
        comparison = compare(
            inputs, opponent_score, challenger_gates_passed=gates_passed, **settings
        )
        decision = {k: comparison[k] for k in ("decision", "reason")}
    else:
        opponent = f"baseline ({baseline_kind})"
        opponent_score = baseline_score
        comparison = dict(baseline_comparison)
        comparison.update(
            ab.decide(
                comparison["metrics"],
                primary=comparison["primary"],
                alpha=settings.get("alpha", 0.05),
                min_improvement=settings.get("min_improvement", 0.0),
                max_degradation=settings.get("max_degradation"),
                challenger_gates_passed=gates_passed,
            )
        )
        decision = _against_baseline(comparison, champion is not None, inputs.champion_label())
    comparison["opponent"] = opponent
    run.save_json("ab_offline", comparison)
    _log_comparison(run, comparison)
    return decision, comparison, np.asarray(opponent_score), opponent


def _against_baseline(comparison: dict[str, Any], is_champion: bool, label: str) -> dict[str, Any]:
    reason = str(comparison["reason"]).replace("the challenger", "the model")
    if is_champion:
        return {
            "decision": "keep_champion",
            "reason": f"this model already is the champion ({label}); against the baseline: "
            f"{comparison['decision']}: {reason}",
        }
    if comparison["decision"] == "promote":
        return {
            "decision": "promote",
            "reason": f"no champion yet; it beats the baseline: {reason}",
        }
    return {
        "decision": comparison["decision"],
        "reason": f"no champion yet, and the model is not shown better than the baseline: {reason}",
    }


def _log_comparison(run: Run, comparison: dict[str, Any]) -> None:
    primary_metric = comparison["primary"]
    primary = comparison["metrics"][primary_metric]
    run.log_metrics(
        {
            f"ab_{primary_metric}_difference": primary["difference"],
            f"ab_{primary_metric}_p_holm": primary["p_adjusted"],
        }
    )
    if "mcnemar" in comparison:
        run.log_metrics({"ab_mcnemar_p": comparison["mcnemar"]["p_value"]})


def scored_frame(inputs: EvaluationInputs, score: np.ndarray) -> pd.DataFrame:
    """The holdout's target beside ``score``, as Evidently's reports read them."""
    return pd.DataFrame({"target": inputs.y.to_numpy(), "score": score})


def correctness(inputs: EvaluationInputs, score: np.ndarray, threshold: float) -> np.ndarray:
    """Per holdout row, whether the scores classify it right (classification only)."""
    return np.asarray((score >= threshold) == (inputs.y.to_numpy() == inputs.pos_label))


def online_experiment(
    run: Run,
    ok_champion: np.ndarray,
    ok_challenger: np.ndarray,
    *,
    mde: float,
    alpha: float,
    power: float,
    split: float,
    looks: int,
    salt: str,
    seed: int,
) -> dict[str, Any]:
    """Plan the sequential experiment for the champion's success rate, run it on simulated
    sticky traffic whose outcomes are the models' per-row correctness, save and log it."""
    p_control = float(np.clip(ok_champion.mean(), 0.01, 0.99 - mde))
    plan = ab.plan_experiment(p_control, mde, alpha=alpha, power=power, split=split, looks=looks)
    ids = [f"entity-{i:07d}" for i in range(plan["total_max_n"])]
    online = ab.run_online_experiment(
        ids,
        salt=salt,
        split=split,
        p_control=p_control,
        p_treatment=p_control + mde,
        design=plan["design"],
        seed=seed,
        row_outcomes=(ok_champion, ok_challenger),
    )
    online["plan"] = plan
    run.save_json("ab_online", online)
    last = online["looks"][-1]
    run.log_metrics(
        {
            "online_difference": online["effect"]["difference"],
            "online_n": last["n_champion"] + last["n_challenger"],
        }
    )
    return online


def record_decision(
    run: Run,
    inputs: EvaluationInputs,
    decision: dict[str, Any],
    *,
    metrics: dict[str, Any],
    gates_passed: bool,
    online: dict[str, Any] | None,
    opponent: str,
) -> dict[str, Any]:
    """Register (and maybe promote) the evaluated model, record the decision in the run and
    name what ``nbtrail run``'s summary shows; returns the recorded decision."""
    registry_event = apply_decision(
        run.ws,
        inputs.model_name,
        decision=decision,
        artifact_path=run.input_path("train", "model"),
        digest=inputs.model_digest,
        run_id=run.upstream["train"],
        metrics=metrics,
        gates_passed=gates_passed,
    )
    summary = {
        **decision,
        "opponent": opponent,
        "gates_passed": gates_passed,
        "registry": registry_event,
        "online_decision": online["decision"] if online else None,
    }
    run.note("ab_decision", summary)
    line = f"A/B decision: {summary['decision']} vs {opponent}"
    reason = str(summary.get("reason") or "").splitlines()
    if reason:
        line += f" ({_shorten(reason[0], 100)})"
    shown = [*_DEFAULT_METRICS[inputs.task], "calibration_error"]
    run.summarize(metrics=shown, lines=[line])
    run.save_json("ab_decision", summary)
    return summary


def _shorten(text: str, width: int) -> str:
    """``text`` cut at a clause or word boundary to at most ``width`` characters."""
    if len(text) <= width:
        return text
    cut = text[:width]
    for mark in (": ", "; ", ", ", " "):
        at = cut.rfind(mark)
        if at > width // 2:
            return cut[:at].rstrip(",;:") + " ..."
    return cut + " ..."


def registry_line(summary: dict[str, Any], model_name: str) -> str:
    """What happened in the registry, in one line."""
    event = summary["registry"]
    if not event["registered"]:
        return "not registered: the model failed its gates"
    promoted = " and promoted it to champion" if event["promoted"] else ""
    return f"registered {model_name}@{event['version']}{promoted}"
