"""Data quality of a batch against the reference: missing, extra, retyped and all-null columns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from nbtrail.practices.monitoring.drift import column_kinds
from nbtrail.practices.monitoring.verdict import FAIL, PASS, PREDICTION_COLUMNS, WARN, Check


def feature_columns(reference: pd.DataFrame, target: str | None) -> list[str]:
    """The reference's columns that are monitored: all but the target and ``_``-prefixed ones."""
    return [
        c
        for c in reference.columns
        if c != target and c not in PREDICTION_COLUMNS and str(c)[:1] != "_"
    ]


def align_times(
    reference: pd.DataFrame, batch: pd.DataFrame, features: Sequence[str]
) -> pd.DataFrame:
    """``batch`` with its text columns parsed as datetimes where the reference's column is a
    datetime and every non-null value parses (a CSV batch stores datetimes as text); other
    columns as they are (a text column that does not parse stays a dtype change)."""
    ref_kinds = column_kinds(reference, [c for c in features if c in batch.columns])
    parsed = {}
    for c, kind in ref_kinds.items():
        s = batch[c]
        if kind != "time" or not (
            pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)
        ):
            continue
        utc = getattr(reference[c].dtype, "tz", None) is not None
        t = pd.to_datetime(s, errors="coerce", utc=utc, format="mixed")
        if int(t.notna().sum()) == int(s.notna().sum()):
            parsed[c] = t
    return batch.assign(**parsed) if parsed else batch


def quality_check(
    reference: pd.DataFrame,
    batch: pd.DataFrame,
    features: Sequence[str],
    target: str | None,
    fail_on_extra: bool,
) -> tuple[Check, dict[str, Any], list[str]]:
    """Data-quality check, its findings, and the columns that can be drift-tested."""
    missing = [c for c in features if c not in batch.columns]
    extra = [
        c
        for c in batch.columns
        if c not in features and c != target and c not in PREDICTION_COLUMNS and str(c)[:1] != "_"
    ]
    present = [c for c in features if c in batch.columns]
    ref_kinds = column_kinds(reference, present)
    cur_kinds = column_kinds(batch, present)
    changed = {
        c: f"{reference[c].dtype} -> {batch[c].dtype}"
        for c in present
        if ref_kinds[c] != cur_kinds[c]
    }
    all_null = [c for c in present if batch[c].isna().all()]
    ref_null = [c for c in present if reference[c].isna().all()]
    findings = {
        "missing_columns": missing,
        "extra_columns": extra,
        "dtype_changed": changed,
        "all_null_columns": all_null,
        "reference_all_null": ref_null,
    }
    parts = []
    if missing:
        parts.append(f"missing columns {', '.join(missing)}")
    if changed:
        parts.append("dtype changed " + ", ".join(f"{c} ({d})" for c, d in changed.items()))
    if all_null:
        parts.append(f"all-null columns {', '.join(all_null)}")
    failing = bool(parts) or (fail_on_extra and bool(extra))
    if extra:
        parts.append(f"extra columns {', '.join(map(str, extra))}")
    status = FAIL if failing else WARN if parts else PASS
    testable = [c for c in present if c not in changed and c not in all_null and c not in ref_null]
    return (
        Check("data_quality", status, "; ".join(parts) or "schema as in the reference"),
        (findings),
        testable,
    )
