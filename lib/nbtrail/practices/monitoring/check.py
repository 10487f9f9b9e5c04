"""The verdict of one batch: data quality, drift (columns and prediction), performance, and
the kind of problem they add up to (data quality, covariate drift, concept drift, ...)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from nbtrail.core.errors import DataError
from nbtrail.practices.monitoring.config import MonitorConfig
from nbtrail.practices.monitoring.drift import column_kinds, drift_table
from nbtrail.practices.monitoring.performance import performance_check
from nbtrail.practices.monitoring.quality import feature_columns, quality_check
from nbtrail.practices.monitoring.verdict import FAIL, PASS, PREDICTION, WARN, Check, Verdict

MIN_LABELS = 10  # fewer labelled rows in a batch: no performance check


def _predict(model: Any, frame: pd.DataFrame, features: Sequence[str]) -> tuple[Any, Any]:
    x = frame[list(features)]
    proba = model.predict_proba(x)[:, 1] if hasattr(model, "predict_proba") else None
    return proba, model.predict(x)


def check_batch(
    reference: pd.DataFrame,
    batch: pd.DataFrame,
    config: MonitorConfig | None = None,
    *,
    name: str = "batch",
    target: str | None = "target",
    model: Any = None,
    baseline: float | None = None,
    features: Sequence[str] | None = None,
) -> Verdict:
    """Compare one batch with the reference and return its :class:`Verdict`.

    ``features``: the monitored columns (default: every reference column but ``target`` and
    ``_``-prefixed ones). ``model`` (optional) adds prediction drift (a classifier's
    probability of the positive class) and, when at least ``MIN_LABELS`` rows of the batch
    have a label in ``target``, accuracy on those rows against ``baseline`` (default: the
    model's accuracy on the reference).
    """
    cfg = config or MonitorConfig()
    if len(reference) == 0:
        raise DataError("the reference data is empty", hint="run the data stage first")
    if len(batch) == 0 or len(batch.columns) == 0:
        raise DataError(
            f"batch {name!r} is empty (0 rows)", hint="check the file or dataset version given"
        )
    features = list(features) if features is not None else feature_columns(reference, target)
    quality, findings, testable = quality_check(
        reference, batch, features, target, cfg.fail_on_extra_columns
    )
    labelled = (
        model is not None
        and hasattr(model, "predict_proba")
        and target is not None
        and target in batch.columns
        and int(batch[target].notna().sum()) >= MIN_LABELS
        and quality.status != FAIL
    )
    alpha_each = cfg.alpha / 2 if labelled else cfg.alpha
    ref_t, cur_t = reference[testable], batch[testable]
    kinds = column_kinds(reference, testable)
    pred = ref_pred = None
    if model is not None and quality.status != FAIL:
        ref_p, ref_pred = _predict(model, reference, features)
        cur_p, pred = _predict(model, batch, features)
        if ref_p is not None:
            ref_t = ref_t.assign(**{PREDICTION: ref_p})
            cur_t = cur_t.assign(**{PREDICTION: cur_p})
            kinds = {**kinds, PREDICTION: "num"}
    table = drift_table(ref_t, cur_t, kinds, alpha_each, cfg.min_effect)
    feats = table[table["column"] != PREDICTION]
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
    pred_row = table[table["column"] == PREDICTION]
    pred_drift = bool(len(pred_row) and pred_row["drifted"].iloc[0])
    if len(pred_row):
        r = pred_row.iloc[0]
        checks.append(
            Check(
                "prediction_drift",
                FAIL if pred_drift else PASS,
                f"prediction KS D={r['effect']:.3f}, BH-adjusted p={r['p_adjusted']:.2g}",
                float(r["effect"]),
                cfg.min_effect,
            )
        )
    perf = None
    if labelled:
        has_label = batch[target].notna().to_numpy()
        y_true, pred = batch[target].to_numpy()[has_label], np.asarray(pred)[has_label]
        if baseline is None:
            baseline = float(np.mean(reference[target].to_numpy() == ref_pred))
        perf = performance_check(y_true, pred, float(baseline), cfg.max_drop, alpha_each)
        checks.append(perf)
    status = FAIL if any(c.status == FAIL for c in checks) else WARN
    if all(c.status == PASS for c in checks):
        status = PASS
    kind = None
    if quality.status == FAIL:
        kind = "data quality"
    elif perf is not None and perf.status == FAIL:
        kind = "concept drift" if not drifted and not pred_drift else "performance degradation"
    elif dstatus == FAIL:
        kind = "covariate drift"
    elif pred_drift:
        kind = "prediction drift"
    return Verdict(
        batch=name,
        rows=len(batch),
        status=status,
        kind=kind,
        summary=_summary(name, status, kind, checks, drifted, pred_drift),
        checks=checks,
        drift=table,
        drift_share=share,
        drifted_columns=drifted,
        metric="accuracy" if perf is not None else None,
        metric_value=perf.value if perf is not None else None,
        baseline=float(baseline) if perf is not None and baseline is not None else None,
        quality=findings,
        alpha=alpha_each,
    )


def _summary(
    name: str,
    status: str,
    kind: str | None,
    checks: list[Check],
    drifted: list[str],
    pred_drift: bool,
) -> str:
    by = {c.name: c for c in checks}
    head = f"batch {name}: {status.upper()}"
    if kind == "data quality":
        return f"{head} - data quality: {by['data_quality'].detail}"
    parts = []
    if kind in ("concept drift", "performance degradation"):
        p = by["performance"]
        stable = " while inputs are stable" if kind == "concept drift" else ""
        parts.append(f"{kind}: accuracy {p.value:.3f} < {p.bound:.3f}{stable}")
    if drifted:
        shown = ", ".join(drifted[:8]) + (
            f" (+{len(drifted) - 8} more)" if len(drifted) > 8 else ""
        )
        parts.append(
            f"data drift in {len(drifted)} columns ({by['data_drift'].value:.0%}): {shown}"
        )
    if pred_drift:
        parts.append("prediction drift")
    if not parts:
        parts.append(by["data_drift"].detail)
        if "performance" in by:
            parts.append(by["performance"].detail.split(" (")[0])
    if by["data_quality"].status == WARN:
        parts.append(by["data_quality"].detail)
    return f"{head} - " + "; ".join(parts)


def check_batches(
    reference: pd.DataFrame,
    batches: Mapping[str, pd.DataFrame],
    config: MonitorConfig | None = None,
    **kw: Any,
) -> list[Verdict]:
    """:func:`check_batch` for each named batch, in order."""
    return [check_batch(reference, df, config, name=name, **kw) for name, df in batches.items()]
