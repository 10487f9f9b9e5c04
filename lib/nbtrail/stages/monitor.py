"""The monitor stage's glue, one call per notebook cell: the task and baselines read from
the evaluate stage, batches in (the demo batches of :mod:`nbtrail.stages.demo_batches`, or
real ones), verdicts recorded, reports saved, history kept, the verdict enforced.

The statistics live in :mod:`nbtrail.practices.monitoring`; this module decides what the
stage does with them. The demo names are re-exported here (``stage.demo_plan``, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from nbtrail.notebook.run import Run
from nbtrail.practices import monitoring as mon
from nbtrail.practices.reports import show_report
from nbtrail.stages.demo_batches import (
    DEMO,
    DEMO_EXPECTED,
    DEMO_KINDS,
    MAX_TIE_SHARE,
    NOISE_SD,
    TARGET_SHIFT_SD,
    DemoPlan,
    demo_batches,
    demo_plan,
)
from nbtrail.stages.monitor_alert import alert_lines, send_alert

__all__ = [
    "DEMO",
    "DEMO_EXPECTED",
    "DEMO_KINDS",
    "DEMO_LINE",
    "HISTORY_DIFFERS",
    "MAX_TIE_SHARE",
    "NOISE_SD",
    "TARGET_SHIFT_SD",
    "DemoPlan",
    "batch_table",
    "demo_batches",
    "demo_plan",
    "describe_baselines",
    "enforce_verdicts",
    "load_batches",
    "monitor_baselines",
    "record_verdicts",
    "save_history_plot",
    "save_reports",
    "send_alert",
    "show_column_tests",
    "update_history",
    "worst_batch_metrics",
]

DEMO_LINE = "demo batches: each got its expected verdict (the drifted ones fail)"
# Why history.png cannot come out the same when the run is re-executed. It is the workspace's
# trend (the point of the plot), not this run's result: drawn from every monitor run's batches
# so far, the reproduction's own included, each labelled with when it was checked. What this
# run found (verdicts, metrics, reports, scored rows) is in its other outputs, which reproduce.
HISTORY_DIFFERS = (
    "drawn from the workspace's monitoring history (the latest batches of every monitor run "
    "so far, with the time each was checked), which grows with every run, the re-execution "
    "included; this run's own verdicts, metrics and reports are compared in full"
)

Show = Callable[[Any], object]


def _display(show: Show | None) -> Show:
    if show is not None:
        return show
    from IPython.display import display

    return display


def monitor_baselines(
    run: Run, model: Any, *, batch: str
) -> tuple[str | None, dict[str, mon.Baseline] | None]:
    """The task and what labelled batches are held to.

    The task is the evaluate stage's (its ``evaluation`` output names it; ``classification``
    is told apart by the model's classes). Real batches are held to the baselines the
    evaluate stage measured on its holdout: each metric's value and, from its interval, its
    standard error (the record's metric when there is no interval; a metric it lacks is
    measured on the reference). Demo batches are drawn from the reference rows, so they are
    held to the model's metrics on those rows (None here: ``check_batch`` measures them): a
    holdout and a reference of a few dozen rows each can differ by a third in RMSE by chance
    alone, and a clean demo batch must not fail for that."""
    record = run.upstream_record("evaluate")
    has = "evaluation" in record.get("outputs", {})
    evaluation = run.read_json("evaluate", "evaluation") if has else None
    task = mon.monitor_task(model, (evaluation or {}).get("task"))
    if task is None or batch == DEMO:
        return task, None
    return task, mon.evaluation_baselines(task, evaluation, record.get("metrics"))


def describe_baselines(task: str | None, baselines: Mapping[str, mon.Baseline] | None) -> str:
    """One line: the task and what labelled batches are held to."""
    held = ", ".join(
        f"{m} {b.value:.4g}" + (f" (se {b.se:.2g})" if b.se > 0 else "")
        for m, b in (baselines or {}).items()
    )
    return f"task {task}; baseline {held or 'measured on the reference rows'}"


def load_batches(
    run: Run,
    batch: str,
    reference: pd.DataFrame,
    *,
    target: str,
    features: Sequence[str],
    rows: int,
    shift_sd: float,
    seed: int,
    task: str | None = None,
) -> dict[str, pd.DataFrame]:
    """The batches to monitor. ``demo``: fabricated for ``task`` (:func:`demo_batches`),
    versioned in the store as ``demo_<kind>`` and their plan recorded; otherwise read from
    the datasets, files and folders ``batch`` names (the files recorded)."""
    if batch == DEMO:
        plan = demo_plan(
            reference,
            target=target,
            features=features,
            shift_sd=shift_sd,
            rows=rows,
            seed=seed,
            task=task,
        )
        batches = demo_batches(reference, plan, target=target, features=features)
        for name, frame in batches.items():
            run.save_dataset(f"demo_{name}", frame, dataset=f"demo_{name}")
        run.note("demo_batches", plan.to_dict())
        print(plan.describe())
        return batches
    sources = mon.batch_sources(batch, run.ws.root)
    batches = {
        name: run.use_dataset(where) if kind == "dataset" else mon.read_batch_file(where)
        for name, kind, where in sources
    }
    run.note("batch_files", [where for _, kind, where in sources if kind == "file"])
    return batches


def batch_table(batches: Mapping[str, pd.DataFrame], target: str) -> pd.DataFrame:
    """One row per batch: rows, columns, whether it has labels."""
    return pd.DataFrame(
        [
            {"batch": k, "rows": len(v), "columns": v.shape[1], "labelled": target in v.columns}
            for k, v in batches.items()
        ]
    )


def record_verdicts(
    run: Run,
    reference: pd.DataFrame,
    batches: Mapping[str, pd.DataFrame],
    config: mon.MonitorConfig,
    **check: Any,
) -> list[mon.Verdict]:
    """Each batch's verdict (``check``: :func:`~nbtrail.practices.monitoring.check_batch`'s
    keywords) recorded in the run and printed, with the stage's metrics logged."""
    verdicts = mon.check_batches(reference, batches, config, **check)
    for v in verdicts:
        run.verdict(
            f"monitor_{v.batch}",
            passed=v.passed,
            status=v.status,
            kind=v.kind,
            drift_share=v.drift_share,
            drifted=", ".join(v.drifted_columns),
            metric=v.metric,
            **v.metrics,
            summary=v.summary,
        )
        print(v.summary)
    run.log_metrics(
        {
            "batches": len(verdicts),
            "batches_failed": sum(not v.passed for v in verdicts),
            "max_drift_share": max(v.drift_share for v in verdicts),
            **worst_batch_metrics(verdicts),
        }
    )
    return verdicts


def worst_batch_metrics(verdicts: Sequence[mon.Verdict]) -> dict[str, float | None]:
    """The worst value of each performance metric over the batches: ``min_batch_<m>`` for an
    accuracy, ``max_batch_<m>`` for an error (``min_batch_accuracy`` always, None when no
    batch measured it)."""
    values: dict[str, list[float]] = {}
    for v in verdicts:
        for m, x in v.metrics.items():
            values.setdefault(m, []).append(x)
    out: dict[str, float | None] = {"min_batch_accuracy": None}
    for m, xs in values.items():
        if m in mon.ERROR_METRICS:
            out[f"max_batch_{m}"] = max(xs)
        else:
            out[f"min_batch_{m}"] = min(xs)
    return out


def show_column_tests(verdicts: Sequence[mon.Verdict], show: Show | None = None) -> None:
    """Per batch: its checks, and the six columns with the largest effect."""
    show = _display(show)
    formats = {"statistic": "{:.3f}", "p_value": "{:.2g}", "effect": "{:.3f}"}
    for v in verdicts:
        print(f"{v.batch}: {', '.join(f'{c.label} {c.status}' for c in v.checks)}")
        top = v.drift.sort_values("effect", ascending=False).head(6)
        show(top.style.format({**formats, "p_adjusted": "{:.2g}"}))


def save_reports(
    run: Run,
    reference: pd.DataFrame,
    batches: Mapping[str, pd.DataFrame],
    verdicts: Sequence[mon.Verdict],
    config: mon.MonitorConfig,
    *,
    show: Show | None = None,
    **report: Any,
) -> None:
    """An Evidently report per batch saved in the run (``drift_<batch>``) and shown inline
    (``report``: :func:`~nbtrail.practices.monitoring.drift_report`'s keywords)."""
    show = _display(show)
    for v in verdicts:
        snap = mon.drift_report(reference, batches[v.batch], v, config, **report)
        page = run.save_report(f"drift_{v.batch}", snap, title=f"drift: {v.batch}")
        print(v.summary)
        show(show_report(page, run.ws))


def save_history_plot(run: Run, history: pd.DataFrame, *, drift_share_fail: float) -> Path:
    """The history drawn (:func:`~nbtrail.practices.monitoring.plot_history`), saved in the
    run as output ``history`` (``history.png``), declared expected to differ on re-execution
    (:data:`HISTORY_DIFFERS`); returns its path."""
    fig = mon.plot_history(history, drift_share_fail=drift_share_fail)
    path = run.output_path("history.png")
    fig.savefig(path, dpi=90)
    return run.save_file("history", path, kind="file", expected_to_differ=HISTORY_DIFFERS)


def update_history(run: Run, verdicts: Sequence[mon.Verdict], *, points: int) -> pd.DataFrame:
    """Append this run's verdicts to the history; its last ``points`` rows (the last nine
    printed). A reproduction (``run.reproduces``) appends nothing: its batches are already in
    the history, under the run it reproduces."""
    if run.reproduces is None:
        mon.record_history(run.ws, run.run_id, verdicts)
    else:
        print(f"reproducing {run.reproduces}: the monitoring history is left as it is")
    history = mon.load_history(run.ws, limit=points)
    print(mon.format_history(history.tail(9)))
    return history


def enforce_verdicts(
    run: Run, verdicts: Sequence[mon.Verdict], *, batch: str, fail_on_alarm: bool
) -> None:
    """Name what ``nbtrail run``'s summary shows, then act: demo batches must get their
    expected verdicts; real ones raise :class:`~nbtrail.core.errors.VerdictFailed` when one
    failed (unless ``fail_on_alarm`` is off)."""
    demo = batch == DEMO
    run.summarize(
        metrics=["batches", "batches_failed", "max_drift_share"],
        lines=[*([DEMO_LINE] if demo else []), *alert_lines(run)],
    )
    if demo:
        mon.check_expected(verdicts, DEMO_EXPECTED)
        print(
            "demo: every batch got its expected verdict (failures above are the point of the demo)"
        )
    elif fail_on_alarm:
        mon.raise_for_verdicts(verdicts, also=alert_lines(run, sent_only=True))
        print("all batches passed")
    else:
        print("fail_on_alarm is off: verdicts recorded, not enforced")
