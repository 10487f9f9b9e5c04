"""The verdict of one batch: data quality, drift (columns and prediction), performance, and
the kind of problem they add up to (data quality, covariate drift, concept drift, ...)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from nbtrail.core.errors import DataError
from nbtrail.practices.monitoring.baselines import Baseline, metric_value, resolve_baselines
from nbtrail.practices.monitoring.config import MonitorConfig
from nbtrail.practices.monitoring.domain_classifier import domain_classifier_test
from nbtrail.practices.monitoring.drift import column_kinds, drift_table
from nbtrail.practices.monitoring.estimation.estimator import (
    ESTIMATED,
    PerformanceEstimator,
    estimate_checks,
)
from nbtrail.practices.monitoring.multivariate import MultivariateResult, multivariate_test
from nbtrail.practices.monitoring.performance import performance_checks
from nbtrail.practices.monitoring.quality import align_times, feature_columns, quality_check
from nbtrail.practices.monitoring.task import (
    ERROR_METRICS,
    monitor_task,
    predict,
    prediction_columns,
)
from nbtrail.practices.monitoring.verdict import (
    FAIL,
    MULTIVARIATE,
    NOT_COLUMNS,
    PASS,
    PREDICTION_COLUMNS,
    WARN,
    Check,
    Verdict,
)

MIN_LABELS = 10  # fewer labelled rows in a batch (or the reference): no performance check

BaselineSpec = float | Baseline | Mapping[str, float | Baseline] | None


def _labels(frame: pd.DataFrame, target: str | None) -> np.ndarray | None:
    """Which rows of ``frame`` have a label (None: fewer than ``MIN_LABELS``)."""
    if target is None or target not in frame.columns:
        return None
    has = frame[target].notna().to_numpy()
    return has if int(has.sum()) >= MIN_LABELS else None


def _reference_metric(
    model: Any, reference: pd.DataFrame, features: Sequence[str], target: str | None
) -> Any:
    """``measure(metric)``: the model's metric on the labelled reference rows (None if
    the reference has too few labels)."""
    cache: dict[str, np.ndarray] = {}

    def measure(metric: str) -> float | None:
        has = _labels(reference, target)
        if has is None:
            return None
        if "pred" not in cache:
            cache["pred"] = predict(model, reference, features)
        y = reference[target].to_numpy()[has]
        return metric_value(metric, y, cache["pred"][has])

    return measure


def _prediction_check(table: pd.DataFrame, min_effect: float) -> Check | None:
    rows = table[table["column"].isin(PREDICTION_COLUMNS)]
    if rows.empty:
        return None
    parts = [
        f"{r.column} {'KS D' if r.test == 'ks' else 'chi-square TV'}={r.effect:.3f}, "
        f"BH-adjusted p={r.p_adjusted:.2g}"
        for r in rows.itertuples()
    ]
    drifted = bool(rows["drifted"].any())
    return Check(
        "prediction_drift",
        FAIL if drifted else PASS,
        "; ".join(parts),
        float(rows["effect"].max()),
        min_effect,
    )


def _multivariate(
    reference: pd.DataFrame, batch: pd.DataFrame, kinds: Mapping[str, str], cfg: MonitorConfig
) -> MultivariateResult | None:
    """The joint test ``cfg`` asks for (None: off, or too little to test)."""
    if not cfg.multivariate:
        return None
    if cfg.multivariate_method == "classifier":
        return domain_classifier_test(reference, batch, kinds, seed=cfg.seed)
    return multivariate_test(reference, batch, kinds, seed=cfg.seed)


def _multivariate_check(
    joint: pd.DataFrame, mv: MultivariateResult | None, cfg: MonitorConfig
) -> Check | None:
    """The joint test's check: fails when its BH-adjusted p-value is below the family's
    level and its effect (``2 AUC - 1``) is at least ``min_effect`` (a warning when
    ``drift_share_fail`` tolerates some drift)."""
    if mv is None or joint.empty:
        return None
    row = joint.iloc[0]
    named = mv.top(3)
    p = f"BH-adjusted p={row['p_adjusted']:.2g}"
    if mv.error_ratio is not None:
        how = (
            f"reconstruction error x{mv.error_ratio:.2f} the reference's (AUC {mv.auc:.3f}, "
            f"{p}; {mv.components} components of {mv.columns})"
        )
    else:
        how = f"domain classifier AUC {mv.auc:.3f} on held-out rows ({p})"
    detail = how + (f"; most from {', '.join(named)}" if named and row["drifted"] else "")
    status = PASS if not row["drifted"] else FAIL if cfg.drift_share_fail == 0 else WARN
    return Check("multivariate_drift", status, detail, mv.effect, cfg.min_effect)


def check_batch(
    reference: pd.DataFrame,
    batch: pd.DataFrame,
    config: MonitorConfig | None = None,
    *,
    name: str = "batch",
    target: str | None = "target",
    model: Any = None,
    baseline: BaselineSpec = None,
    features: Sequence[str] | None = None,
    task: str | None = None,
    estimator: PerformanceEstimator | None = None,
) -> Verdict:
    """Compare one batch with the reference and return its :class:`Verdict`.

    ``features``: the monitored columns (default: every reference column but ``target`` and
    ``_``-prefixed ones). ``model`` (optional) adds prediction drift
    (:func:`~nbtrail.practices.monitoring.task.prediction_columns`) and, when at least
    ``MIN_LABELS`` rows of the batch have a label in ``target``, the task's performance
    metrics on those rows against ``baseline``: a number (the task's headline metric:
    accuracy, or MAE for a regression), a :class:`Baseline`, or a mapping from metric to
    either; metrics it leaves out are measured on the reference. ``task``: ``binary``,
    ``multiclass``, ``regression`` or ``classification`` (default: the model's).
    ``estimator`` (:func:`~nbtrail.practices.monitoring.estimation.fit_estimator`): a batch
    without labels gets its performance estimated and checked against the same baselines
    (``estimated_performance`` checks, alpha split with drift as with labels).
    """
    cfg = config or MonitorConfig()
    if len(reference) == 0:
        raise DataError("the reference data is empty", hint="run the data stage first")
    if len(batch) == 0 or len(batch.columns) == 0:
        raise DataError(
            f"batch {name!r} is empty (0 rows)", hint="check the file or dataset version given"
        )
    features = list(features) if features is not None else feature_columns(reference, target)
    task = monitor_task(model, task)
    batch = align_times(reference, batch, features)
    quality, findings, testable = quality_check(
        reference, batch, features, target, cfg.fail_on_extra_columns
    )
    usable = model is not None and task is not None and quality.status != FAIL
    has_label = _labels(batch, target) if usable else None
    baselines: dict[str, Baseline] = {}
    if has_label is not None and task is not None:
        measure = _reference_metric(model, reference, features, target)
        baselines = resolve_baselines(task, baseline, measure)
    estimate = None
    if usable and has_label is None and estimator is not None and task is not None:
        measure = _reference_metric(model, reference, features, target)
        baselines = resolve_baselines(task, baseline, measure)
        estimate = estimator.estimate(batch) if baselines else None
    labelled = bool(baselines)
    alpha_each = cfg.alpha / 2 if labelled else cfg.alpha
    ref_t, cur_t = reference[testable], batch[testable]
    kinds = column_kinds(reference, testable)
    mv = _multivariate(ref_t, cur_t, kinds, cfg)
    if usable and task is not None:
        ref_p, pred_kinds = prediction_columns(model, reference, features, task)
        cur_p, _ = prediction_columns(model, batch, features, task)
        ref_t, cur_t = ref_t.assign(**ref_p), cur_t.assign(**cur_p)
        kinds = {**kinds, **pred_kinds}
    extra = [mv.row()] if mv is not None else []
    table = drift_table(ref_t, cur_t, kinds, alpha_each, cfg.min_effect, extra=extra)
    joint = table[table["column"] == MULTIVARIATE]  # corrected with the columns, kept apart
    table = table[table["column"] != MULTIVARIATE].reset_index(drop=True)
    feats = table[~table["column"].isin(NOT_COLUMNS)]
    drifted = feats.loc[feats["drifted"], "column"].tolist()
    drifted = sorted(drifted, key=lambda c: -float(feats.set_index("column").loc[c, "effect"]))
    share = len(drifted) / len(feats) if len(feats) else 0.0
    if drifted and share >= cfg.drift_share_fail:
        dstatus = FAIL
    else:
        dstatus = WARN if drifted else PASS
    ddetail = (
        f"{len(drifted)}/{len(feats)} columns drifted ({share:.0%}): {', '.join(drifted)}"
        if drifted
        else f"no drift in {len(feats)} columns"
    ) + f" (BH at {alpha_each:g}, min effect {cfg.min_effect:g})"
    checks = [quality, Check("data_drift", dstatus, ddetail, share, cfg.drift_share_fail)]
    mv_check = _multivariate_check(joint, mv, cfg)
    mv_drift = mv_check is not None and mv_check.status != PASS
    if mv_check is not None:
        checks.append(mv_check)
    pred_check = _prediction_check(table, cfg.min_effect)
    pred_drift = pred_check is not None and pred_check.status == FAIL
    if pred_check is not None:
        checks.append(pred_check)
    perf: list[Check] = []
    if labelled and has_label is not None:
        y_true = batch[target].to_numpy()[has_label]
        y_pred = predict(model, batch, features)[has_label]
        perf = performance_checks(y_true, y_pred, baselines, cfg.max_drop, cfg.alpha / 2)
        checks += perf
    elif estimate is not None:
        perf = estimate_checks(estimate, baselines, cfg.max_drop, cfg.alpha / 2)
        checks += perf
    status = FAIL if any(c.status == FAIL for c in checks) else WARN
    if all(c.status == PASS for c in checks):
        status = PASS
    kind = None
    if quality.status == FAIL:
        kind = "data quality"
    elif any(c.status == FAIL for c in perf) and estimate is not None:
        kind = "estimated degradation"
    elif any(c.status == FAIL for c in perf):
        stable = not drifted and not pred_drift and not mv_drift
        kind = "concept drift" if stable else "performance degradation"
    elif dstatus == FAIL:
        kind = "covariate drift"
    elif mv_check is not None and mv_check.status == FAIL:
        kind = "multivariate drift"
    elif pred_drift:
        kind = "prediction drift"
    measured = perf if estimate is None else []  # estimates live in ``estimate``
    head = measured[0] if measured else None
    return Verdict(
        batch=name,
        rows=len(batch),
        status=status,
        kind=kind,
        summary=_summary(name, status, kind, checks, drifted, pred_drift),
        multivariate=_multivariate_dict(mv, joint, mv_drift),
        checks=checks,
        drift=table,
        drift_share=share,
        drifted_columns=drifted,
        metric=head.metric if head is not None else None,
        metric_value=head.value if head is not None else None,
        baseline=baselines[head.metric].value if head is not None and head.metric else None,
        quality=findings,
        alpha=alpha_each,
        task=task,
        metrics={str(c.metric): float(c.value) for c in measured if c.value is not None},
        baselines={m: b.value for m, b in baselines.items()},
        estimate=estimate.to_dict() if estimate is not None else None,
    )


def _number(metric: str | None, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if metric in ERROR_METRICS else f"{value:.3f}"


def _summary(
    name: str,
    status: str,
    kind: str | None,
    checks: list[Check],
    drifted: list[str],
    pred_drift: bool,
) -> str:
    by = {c.name: c for c in checks}
    perf = [c for c in checks if c.name in ("performance", ESTIMATED)]
    head = f"batch {name}: {status.upper()}"
    if kind == "data quality":
        return f"{head} - data quality: {by['data_quality'].detail}"
    parts = []
    if kind in ("concept drift", "performance degradation", "estimated degradation"):
        worse = [
            f"{'estimated ' if c.name == ESTIMATED else ''}{c.metric} {_number(c.metric, c.value)} "
            f"{'>' if c.metric in ERROR_METRICS else '<'} {_number(c.metric, c.bound)}"
            for c in perf
            if c.status == FAIL
        ]
        stable = " while inputs are stable" if kind == "concept drift" else ""
        stable = " (no labels)" if kind == "estimated degradation" else stable
        parts.append(f"{kind}: {', '.join(worse)}{stable}")
    if drifted:
        shown = ", ".join(drifted[:8]) + (
            f" (+{len(drifted) - 8} more)" if len(drifted) > 8 else ""
        )
        parts.append(
            f"data drift in {len(drifted)} column{'s' if len(drifted) > 1 else ''}"
            f" ({by['data_drift'].value:.0%}): {shown}"
        )
    mv = by.get("multivariate_drift")
    if mv is not None and mv.status != PASS:
        parts.append(f"multivariate drift: {mv.detail}")
    if pred_drift:
        parts.append("prediction drift")
    if not parts:
        parts.append(by["data_drift"].detail)
        parts += [
            f"{c.metric} {_number(c.metric, c.value)} (bound {_number(c.metric, c.bound)})"
            for c in perf
        ]
    if by["data_quality"].status == WARN:
        parts.append(by["data_quality"].detail)
    return f"{head} - " + "; ".join(parts)


def _multivariate_dict(
    mv: MultivariateResult | None, joint: pd.DataFrame, drifted: bool
) -> dict[str, Any]:
    if mv is None or joint.empty:
        return {}
    adjusted = float(joint["p_adjusted"].iloc[0])
    return {**asdict(mv), "p_adjusted": adjusted, "drifted": drifted, "top_columns": mv.top()}


def check_batches(
    reference: pd.DataFrame,
    batches: Mapping[str, pd.DataFrame],
    config: MonitorConfig | None = None,
    **kw: Any,
) -> list[Verdict]:
    """:func:`check_batch` for each named batch, in order."""
    return [check_batch(reference, df, config, name=name, **kw) for name, df in batches.items()]
