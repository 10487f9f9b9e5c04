"""The evaluate stage's A/B story, one call per notebook cell: the offline paired comparison
with the champion, the simulated online experiment, and the decision that reaches the registry.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nbtrail.notebook.run import Run
from nbtrail.practices import abtest as ab
from nbtrail.practices import evaluation as ev
from nbtrail.stages.champion import apply_decision


def compare_with_champion(
    run: Run,
    champion: dict[str, Any] | None,
    challenger_digest: str,
    *,
    y: Any,
    score: np.ndarray,
    holdout: Any,
    columns: list[str],
    task: str,
    gates_passed: bool,
    model_name: str,
    ab_metrics: list[str],
    **settings: Any,
) -> tuple[dict[str, Any], dict[str, Any] | None, np.ndarray | None]:
    """The decision (and, when a different champion exists, the paired comparison and the
    champion's holdout scores), with the comparison saved and its key numbers logged.
    ``settings`` are :func:`~nbtrail.practices.abtest.compare_offline`'s keyword arguments."""
    if champion is None:
        return ab.no_champion_decision(gates_passed), None, None
    if champion["digest"] == challenger_digest:
        reason = f"this model already is the champion ({model_name}@{champion['version']})"
        return {"decision": "keep_champion", "reason": reason}, None, None
    champion_score = ev.score_function(champion["model"], task, columns)(holdout)
    known = ev.CLASSIFICATION_METRICS if task == "classification" else ev.REGRESSION_METRICS
    comparison = ab.compare_offline(
        y,
        champion_score,
        score,
        task=task,
        metrics=[m for m in ab_metrics if m in known],
        challenger_gates_passed=gates_passed,
        **settings,
    )
    run.save_json("ab_offline", comparison)
    primary_metric = settings["primary"]
    primary = comparison["metrics"][primary_metric]
    run.log_metrics(
        {
            f"ab_{primary_metric}_difference": primary["difference"],
            f"ab_{primary_metric}_p_holm": primary["p_adjusted"],
        }
    )
    if "mcnemar" in comparison:
        run.log_metrics({"ab_mcnemar_p": comparison["mcnemar"]["p_value"]})
    decision = {k: comparison[k] for k in ("decision", "reason")}
    return decision, comparison, champion_score


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
    model_name: str,
    decision: dict[str, Any],
    *,
    digest: str,
    metrics: dict[str, Any],
    gates_passed: bool,
    online: dict[str, Any] | None,
    summary_metrics: list[str],
) -> dict[str, Any]:
    """Register (and maybe promote) the evaluated model, record the decision in the run and
    name what ``nbtrail run``'s summary shows; returns the recorded decision."""
    registry_event = apply_decision(
        run.ws,
        model_name,
        decision=decision,
        artifact_path=run.input_path("train", "model"),
        digest=digest,
        run_id=run.upstream["train"],
        metrics=metrics,
        gates_passed=gates_passed,
    )
    summary = {
        **decision,
        "gates_passed": gates_passed,
        "registry": registry_event,
        "online_decision": online["decision"] if online else None,
    }
    run.note("ab_decision", summary)
    reason = str(summary.get("reason") or "").splitlines()
    first = reason[0][:110] if reason else ""
    line = f"A/B decision: {summary['decision']}" + (f" ({first})" if first else "")
    run.summarize(metrics=summary_metrics, lines=[line])
    run.save_json("ab_decision", summary)
    return summary
