"""The evaluate stage's A/B steps, one call per notebook cell: the paired comparison with
the champion (or, before there is one, with the baseline), the simulated online experiment
for classifiers, and the decision that reaches the registry."""

from __future__ import annotations

from typing import Any

import numpy as np

from nbtrail.notebook.run import Run
from nbtrail.practices import abtest as ab
from nbtrail.practices import evaluation as ev
from nbtrail.runs import records
from nbtrail.stages.champion import apply_decision
from nbtrail.stages.evaluate import DEFAULT_METRICS, compare
from nbtrail.stages.evaluate_inputs import EvaluationInputs


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
        opponent_score = inputs.scores_of(champion["model"], inputs.holdout)
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
                intervals=comparison.get("adjusted_intervals"),
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
    if "wilcoxon" in comparison:
        run.log_metrics({"ab_wilcoxon_p": comparison["wilcoxon"]["p_value"]})


def correctness(inputs: EvaluationInputs, score: np.ndarray, threshold: float) -> np.ndarray:
    """Per holdout row, whether the scores classify it right (binary: the positive-class
    probability against ``threshold``; multiclass: the most probable class)."""
    _, y, _ = ev.prepare_target(inputs.y, inputs.task, None, inputs.pos_label, inputs.classes)
    return ev.correct_rows(y, score, threshold)


def comparison_lines(comparison: dict[str, Any]) -> list[str]:
    """What the paired tests found, one line each, and how to read the intervals."""
    lines = [f"challenger versus {comparison['opponent']}"]
    if "mcnemar" in comparison:
        lines.append(ab.mcnemar_line(comparison["mcnemar"]))
    if "wilcoxon" in comparison:
        w = comparison["wilcoxon"]
        lines.append(
            f"Wilcoxon signed-rank on absolute errors: shift {w['difference']:+.4g}, "
            f"p = {w['p_value']:.4g} ({w['n_nonzero']} rows differ)"
        )
    lines.append(
        "intervals: each metric's at its Holm level (ci_level), so an interval excludes 0 "
        "exactly when the Holm-adjusted p < alpha"
    )
    return lines


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
    name what ``nbtrail run``'s summary shows; returns the recorded decision.

    A reproduction (``run.reproduces``) changes nothing in the registry (re-executing an old
    evaluation must not move the champion back to its model): its ``registry`` is what the
    original run's decision did there."""
    if run.reproduces is None:
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
    else:
        registry_event = original_registry_event(run, inputs.model_name)
        print(f"reproducing {run.reproduces}: the registry is left as it is")
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
    shown = [*DEFAULT_METRICS[inputs.task]]
    shown += ["calibration_error"] if inputs.task == "binary" else []
    run.summarize(metrics=shown, lines=[line])
    run.save_json("ab_decision", summary)
    return summary


def original_registry_event(run: Run, name: str) -> dict[str, Any]:
    """What the decision of the run that ``run`` reproduces did in the registry (as its
    record says; nothing, when it says nothing)."""
    extra = records.load(run.ws, run.reproduces).get("extra", {}) if run.reproduces else {}
    event = (extra.get("ab_decision") or {}).get("registry")
    if isinstance(event, dict):
        return event
    return {"name": name, "version": None, "registered": False, "promoted": False}


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
