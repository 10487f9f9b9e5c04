"""Drift and degradation across production batches, with verdicts a scheduler can act on.

Each batch is compared with the reference (the ``reference`` split of the data stage):

1. **Data quality**: missing columns, changed dtypes and all-null columns fail the batch and
   are named; extra columns are named as a warning (a failure with ``fail_on_extra_columns``).
   An empty batch raises :class:`~nbtrail.errors.DataError`.
2. **Data and prediction drift**: one test per column, two-sample Kolmogorov-Smirnov for
   numeric columns (the same ``scipy.stats.ks_2samp`` p-value Evidently's ``ks`` method
   gives) and a chi-square test of homogeneity for categorical ones. The model's predicted
   probability is one more column of the same family. The p-values are corrected for
   multiple comparisons with **Benjamini-Hochberg** at level ``alpha``: a column is drifted
   when its BH-adjusted p-value is below ``alpha`` *and* its effect (KS statistic D, or total
   variation distance of category shares) is at least ``min_effect``. Under the null (every
   column drawn from the reference distribution, independent tests) the chance that BH
   rejects anything is at most ``alpha`` (Simes), so a batch drawn from the reference
   distribution raises a drift alarm at most ``alpha`` of the time; the effect floor only
   lowers that. ``tests/test_monitoring.py`` measures it by simulation.
3. **Performance** (when the batch has labels): accuracy against the evaluation baseline,
   with a one-sided exact binomial test of ``accuracy >= baseline - max_drop``. When labels
   are present the two alarm families (drift, performance) each get ``alpha / 2``
   (Bonferroni), so the batch verdict keeps its false-alarm rate ``alpha``.
   Degraded performance while no input column and no prediction drifted is named
   **concept drift**.

Large batches: the verdict's tests run on all rows (KS and chi-square are O(n log n)); only the
Evidently report, which is a picture, is drawn from a uniform sample of ``report_rows`` rows.
Its error bound (Dvoretzky-Kiefer-Wolfowitz): with probability ``1 - delta`` each empirical CDF
or category share of the sample is within ``sqrt(ln(2/delta) / (2 n))`` of the full data's, so
a KS statistic in the report is within twice that of the full-data one (see
:func:`sampling_error_bound`).

History: one row per (run, batch). The record of truth is ``workspace/monitoring/history.jsonl``
(one JSON line per :func:`record_history` call, appended under a lock with an fsync); the
``monitor_history`` table of the index is a cache of it, caught up on every read from the byte
offset its :class:`~nbtrail.core.applog.LogCache` applied, and re-derived whole by :func:`rebuild`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from nbtrail.core import db
from nbtrail.core.applog import LogCache, log_size, log_writer
from nbtrail.core.errors import DataError, ParameterError, VerdictFailed
from nbtrail.core.workspace import Workspace

if TYPE_CHECKING:
    from evidently.core.report import Snapshot
    from matplotlib.figure import Figure

PREDICTION = "prediction"
MIN_LABELS = 10  # fewer labelled rows in a batch: no performance check
PASS, WARN, FAIL = "pass", "warn", "fail"
DEMO_DRIFT_COLUMNS = ("mean_radius", "mean_texture", "worst_area")
DEMO_SEGMENT_COLUMN = "worst_concave_points"
DEMO_KINDS = ("clean", "covariate_drift", "concept_drift")
DEMO_EXPECTED = {"clean": PASS, "covariate_drift": FAIL, "concept_drift": FAIL}


@dataclass(frozen=True)
class MonitorConfig:
    """Thresholds of the monitor verdict (the monitor stage's parameters)."""

    alpha: float = 0.05  # false-alarm rate of a batch verdict (BH level for the columns)
    min_effect: float = 0.1  # a drifted column also needs KS D / TV distance >= this
    drift_share_fail: float = 0.0  # fail when >= this share of columns drifted (0: any)
    max_drop: float = 0.05  # accuracy may fall this far below the baseline
    fail_on_extra_columns: bool = False
    report_rows: int = 50_000  # rows sampled (per dataset) for the Evidently report
    top_k: int = 5  # most drifted columns kept in the history
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("alpha", "min_effect", "drift_share_fail", "max_drop"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ParameterError(f"{name} must be a number in [0, 1], got {value!r}")
        if not 0 < self.alpha < 1:
            raise ParameterError(f"alpha must be in (0, 1), got {self.alpha!r}")
        if int(self.report_rows) < 100:
            raise ParameterError(f"report_rows must be >= 100, got {self.report_rows!r}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> MonitorConfig:
        """Build from a parameter mapping, ignoring names that are not thresholds."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in params.items() if k in names})


@dataclass
class Check:
    name: str  # data_quality, data_drift, prediction_drift, performance
    status: str  # pass, warn, fail
    detail: str
    value: float | None = None
    bound: float | None = None


@dataclass
class Verdict:
    """The outcome for one batch: checks, the per-column drift table and a one-line summary."""

    batch: str
    rows: int
    status: str
    kind: str | None  # "data quality", "covariate drift", "concept drift", ...
    summary: str
    checks: list[Check]
    drift: pd.DataFrame
    drift_share: float
    drifted_columns: list[str]
    metric: str | None = None
    metric_value: float | None = None
    baseline: float | None = None
    quality: dict[str, Any] = field(default_factory=dict)
    alpha: float = 0.05  # the level the drift family was tested at (BH)

    @property
    def passed(self) -> bool:
        return self.status != FAIL

    def top_columns(self, k: int = 5) -> list[str]:
        """The ``k`` columns with the largest effect (drifted ones first)."""
        if self.drift.empty:
            return []
        t = self.drift.sort_values(["drifted", "effect"], ascending=[False, False])
        return [c for c in t["column"].head(k) if c != PREDICTION]

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "drift"}
        d["drift"] = self.drift.to_dict(orient="records")
        return d


# -- per-column tests -------------------------------------------------------------------------


def column_kinds(df: pd.DataFrame, columns: Sequence[str]) -> dict[str, str]:
    """``num`` for numeric (not boolean) columns, ``cat`` for everything else."""
    out = {}
    for c in columns:
        s = df[c]
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        out[c] = "num" if numeric else "cat"
    return out


def _cat_test(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float, float]:
    """Chi-square test of homogeneity and total variation distance of category shares."""
    codes, _ = pd.factorize(np.concatenate([ref, cur]))
    k = int(codes.max()) + 1 if len(codes) else 0
    table = np.stack(
        [np.bincount(codes[: len(ref)], minlength=k), np.bincount(codes[len(ref) :], minlength=k)]
    ).astype(float)
    shares = table / table.sum(axis=1, keepdims=True)
    tvd = float(0.5 * np.abs(shares[0] - shares[1]).sum())
    if k < 2:
        return 0.0, 1.0, tvd
    res = stats.chi2_contingency(table, correction=False)
    return float(res.statistic), float(res.pvalue), tvd


def _values(s: pd.Series, kind: str) -> np.ndarray:
    """The non-null values of a column as floats (numeric) or strings (categorical)."""
    if kind == "num":
        a = s.to_numpy(dtype=float, na_value=np.nan)
        return a[~np.isnan(a)]
    a = s.to_numpy(dtype=object)
    return a[~pd.isna(a)].astype(str)


def column_tests(
    reference: pd.DataFrame, batch: pd.DataFrame, kinds: Mapping[str, str]
) -> pd.DataFrame:
    """One drift test per column: ``column, kind, test, statistic, p_value, effect``.

    Numeric: ``scipy.stats.ks_2samp`` (effect: the KS statistic D). Categorical: chi-square
    test of homogeneity on the 2 x k table of counts (effect: total variation distance).
    Nulls are left out (all-null columns are a data-quality finding, not tested here).
    """
    rows = []
    for col, kind in kinds.items():
        ref, cur = _values(reference[col], kind), _values(batch[col], kind)
        if kind == "num":
            res = stats.ks_2samp(ref, cur)
            stat, p, effect, test = (
                float(res.statistic),
                float(res.pvalue),
                float(res.statistic),
                "ks",
            )
        else:
            stat, p, effect = _cat_test(ref, cur)
            test = "chi2"
        rows.append((col, kind, test, stat, p, effect))
    return pd.DataFrame(rows, columns=["column", "kind", "test", "statistic", "p_value", "effect"])


def bh_threshold(p_values: Sequence[float], alpha: float) -> float:
    """The largest p-value Benjamini-Hochberg rejects at level ``alpha`` (0.0 if none)."""
    p = np.sort(np.asarray(p_values, dtype=float))
    m = len(p)
    if m == 0:
        return 0.0
    ok = np.nonzero(p <= alpha * np.arange(1, m + 1) / m)[0]
    return float(p[ok[-1]]) if len(ok) else 0.0


def drift_table(
    reference: pd.DataFrame,
    batch: pd.DataFrame,
    kinds: Mapping[str, str],
    alpha: float,
    min_effect: float,
) -> pd.DataFrame:
    """:func:`column_tests` plus BH-adjusted p-values and the ``drifted`` decision."""
    t = column_tests(reference, batch, kinds)
    if t.empty:
        t["p_adjusted"] = []
        t["drifted"] = []
        return t
    t["p_adjusted"] = stats.false_discovery_control(t["p_value"].to_numpy(), method="bh")
    t["drifted"] = (t["p_adjusted"] < alpha) & (t["effect"] >= min_effect)
    return t


# -- data quality -----------------------------------------------------------------------------


def feature_columns(reference: pd.DataFrame, target: str | None) -> list[str]:
    """The reference's columns that are monitored: all but the target and ``_``-prefixed ones."""
    return [c for c in reference.columns if c != target and c != PREDICTION and c[:1] != "_"]


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
        if c not in features and c != target and c != PREDICTION and str(c)[:1] != "_"
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


# -- performance ------------------------------------------------------------------------------


def performance_check(
    y_true: np.ndarray, y_pred: np.ndarray, baseline: float, max_drop: float, alpha: float
) -> Check:
    """Accuracy vs ``baseline - max_drop``: one-sided exact binomial test at level ``alpha``."""
    n = int(len(y_true))
    correct = int(np.sum(np.asarray(y_true) == np.asarray(y_pred)))
    acc = correct / n
    bound = baseline - max_drop
    if bound <= 0:
        return Check("performance", PASS, f"accuracy {acc:.3f} (no bound)", acc, bound)
    p = float(stats.binomtest(correct, n, min(bound, 1.0), alternative="less").pvalue)
    ci = stats.binomtest(correct, n).proportion_ci(0.95, method="wilson")
    text = (
        f"accuracy {acc:.3f} [95% CI {ci.low:.3f}, {ci.high:.3f}] vs baseline {baseline:.3f}"
        f" - {max_drop:g} (one-sided binomial p={p:.2g}, n={n})"
    )
    status = FAIL if p < alpha else WARN if acc < bound else PASS
    return Check("performance", status, text, acc, bound)


# -- the verdict ------------------------------------------------------------------------------


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


BATCH_SUFFIXES = (".csv", ".parquet", ".pq")


def batch_sources(spec: str, root: Path) -> list[tuple[str, str, str]]:
    """Parse the monitor stage's ``batch`` parameter into ``(name, kind, where)`` triples.

    ``spec`` is a comma-separated list; each item is a CSV/Parquet file or a folder of them
    (relative to ``root``; kind ``file``, name the file stem), or a dataset ``NAME[@VERSION]``
    in the store (kind ``dataset``, name the item).
    """
    out: list[tuple[str, str, str]] = []
    for item in (s.strip() for s in str(spec).split(",")):
        if not item:
            continue
        path = Path(item) if Path(item).is_absolute() else root / item
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in BATCH_SUFFIXES)
            if not files:
                raise DataError(f"no .csv or .parquet batch files in {item}")
            out += [(p.stem, "file", str(p)) for p in files]
        elif path.suffix.lower() in BATCH_SUFFIXES:
            if not path.is_file():
                raise DataError(f"batch file {item} does not exist")
            out.append((path.stem, "file", str(path)))
        else:
            out.append((item, "dataset", item))
    if not out:
        raise DataError("no batch given", hint="set monitor.batch to a dataset, file or folder")
    return out


def read_batch_file(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet batch file as a DataFrame (unreadable -> DataError)."""
    p = Path(path)
    try:
        if p.suffix.lower() == ".csv":
            return pd.read_csv(p)
        return pd.read_parquet(p)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read batch {p}: {exc}".splitlines()[0]) from exc


def raise_for_verdicts(verdicts: Sequence[Verdict]) -> None:
    """Raise :class:`VerdictFailed` (exit code 8) naming every failed batch, if any."""
    failed = [v for v in verdicts if not v.passed]
    if failed:
        raise VerdictFailed(
            " | ".join(v.summary for v in failed),
            batches=[v.batch for v in failed],
        )


def check_expected(verdicts: Sequence[Verdict], expected: Mapping[str, str]) -> None:
    """Demo mode: raise :class:`VerdictFailed` if a batch's status is not the expected one."""
    wrong = [
        f"{v.batch}: expected {expected[v.batch]}, got {v.status}"
        for v in verdicts
        if v.batch in expected and (v.status == FAIL) != (expected[v.batch] == FAIL)
    ]
    if wrong:
        raise VerdictFailed("demo verdicts not as expected: " + "; ".join(wrong))


def verdict_frame(verdicts: Sequence[Verdict]) -> pd.DataFrame:
    """One row per batch: status, kind, drift share, metric and summary (for display)."""
    return pd.DataFrame(
        [
            {
                "batch": v.batch,
                "rows": v.rows,
                "status": v.status,
                "kind": v.kind or "",
                "drift_share": round(v.drift_share, 3),
                "drifted": ", ".join(v.drifted_columns),
                "accuracy": v.metric_value,
                "baseline": v.baseline,
                "summary": v.summary,
            }
            for v in verdicts
        ]
    )


# -- sampling (for the Evidently report) ------------------------------------------------------


def sampling_error_bound(n: int, delta: float = 0.001) -> float:
    """DKW: with probability >= 1 - delta, a uniform sample of ``n`` rows has every empirical
    CDF value (and category share) within this distance of the full data's."""
    return math.sqrt(math.log(2 / delta) / (2 * n))


def sample_rows(df: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """A uniform random sample of ``n`` rows without replacement (all rows if fewer)."""
    if len(df) <= n:
        return df
    idx = np.sort(np.random.default_rng(seed).choice(len(df), size=n, replace=False))
    return df.iloc[idx]


# -- the Evidently report ---------------------------------------------------------------------


def drift_report(
    reference: pd.DataFrame,
    batch: pd.DataFrame,
    verdict: Verdict,
    config: MonitorConfig | None = None,
    *,
    target: str | None = "target",
    model: Any = None,
    features: Sequence[str] | None = None,
) -> Snapshot:
    """An Evidently report of the batch (drift of the tested columns and the prediction).

    Every column gets the verdict's Benjamini-Hochberg threshold as its Evidently drift
    threshold, so for numeric columns (same KS p-value) Evidently's per-column pass/fail is the
    verdict's (bar the ``min_effect`` floor). For categorical columns Evidently's ``chisquare``
    is a goodness-of-fit test against the reference shares, so its p-value can differ from
    the verdict's homogeneity test; the verdict table is authoritative. Both datasets are
    sampled to ``config.report_rows`` rows (see :func:`sampling_error_bound`).
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    cfg = config or MonitorConfig()
    t = verdict.drift
    cols = t["column"].tolist()
    ref_s = sample_rows(reference, cfg.report_rows, cfg.seed)
    cur_s = sample_rows(batch, cfg.report_rows, cfg.seed + 1)
    features = [c for c in cols if c != PREDICTION]
    ref, cur = ref_s[features].copy(), cur_s[features].copy()
    if PREDICTION in cols and model is not None:
        feats = list(features) if features is not None else feature_columns(reference, target)
        ref[PREDICTION] = model.predict_proba(ref_s[feats])[:, 1]
        cur[PREDICTION] = model.predict_proba(cur_s[feats])[:, 1]
    else:
        cols = features
    kinds = dict(zip(t["column"], t["kind"], strict=True))
    definition = DataDefinition(
        numerical_columns=[c for c in cols if kinds[c] == "num"],
        categorical_columns=[c for c in cols if kinds[c] == "cat"],
    )
    alpha = verdict.alpha
    threshold = bh_threshold(t["p_value"], alpha)
    # Evidently flags p < threshold; BH rejects p <= its largest rejected p-value.
    threshold = float(np.nextafter(threshold, 1.0)) if threshold > 0 else alpha / max(len(t), 1)
    preset = DataDriftPreset(
        columns=cols,
        num_method="ks",
        cat_method="chisquare",
        threshold=threshold,
        drift_share=max(cfg.drift_share_fail, 1e-9),
    )
    report = Report([preset], include_tests=True)
    return report.run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )


# -- demo batches -----------------------------------------------------------------------------


def demo_batches(
    reference: pd.DataFrame,
    *,
    target: str = "target",
    rows: int = 200,
    seed: int = 0,
    shift_sd: float = 1.0,
    drift_columns: Sequence[str] | None = None,
    segment_column: str | None = None,
    features: Sequence[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Three production batches derived from the reference split, deterministic by ``seed``.

    - ``clean``: ``rows`` rows drawn with replacement from the reference, each numeric value
      jittered by Gaussian noise of 5% of the column's reference SD (a smoothed bootstrap:
      the reference distribution, not the reference rows).
    - ``covariate_drift``: like ``clean``, then ``drift_columns`` (default
      ``mean_radius, mean_texture, worst_area``, or the first three numeric columns) shifted
      by ``shift_sd`` reference standard deviations. Labels are the true ones.
    - ``concept_drift``: like ``clean`` (inputs unchanged), but the labels of the segment
      ``segment_column > its reference median`` (default ``worst_concave_points``, or the
      first numeric column) are flipped: the relation between inputs and label changed there.
    """
    rng = np.random.default_rng(seed)
    features = list(features) if features is not None else feature_columns(reference, target)
    numeric = [c for c, k in column_kinds(reference, features).items() if k == "num"]
    if len(numeric) == 0:
        raise DataError("demo batches need at least one numeric column in the reference")
    sd = reference[numeric].std().fillna(0.0)

    def draw() -> pd.DataFrame:
        idx = rng.integers(0, len(reference), size=rows)
        df = reference.iloc[idx].reset_index(drop=True).copy()
        noise = rng.normal(size=(rows, len(numeric))) * (0.05 * sd.to_numpy())
        df[numeric] = df[numeric].to_numpy(dtype=float) + noise
        return df.drop(columns=[c for c in df.columns if str(c)[:1] == "_"])

    cols = list(drift_columns or [c for c in DEMO_DRIFT_COLUMNS if c in numeric] or numeric[:3])
    seg = segment_column or (DEMO_SEGMENT_COLUMN if DEMO_SEGMENT_COLUMN in numeric else numeric[0])
    clean = draw()
    covariate = draw()
    covariate[cols] = covariate[cols] + shift_sd * sd[cols].to_numpy()
    concept = draw()
    if target in concept.columns:
        segment = concept[seg] > reference[seg].median()
        concept.loc[segment, target] = 1 - concept.loc[segment, target]
    return {"clean": clean, "covariate_drift": covariate, "concept_drift": concept}


# -- history ----------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS monitor_history (
    run_id TEXT NOT NULL,
    batch TEXT NOT NULL,
    seq INTEGER NOT NULL,
    created TEXT NOT NULL,
    status TEXT NOT NULL,
    kind TEXT,
    rows INTEGER NOT NULL,
    drift_share REAL NOT NULL,
    n_drifted INTEGER NOT NULL,
    metric TEXT,
    metric_value REAL,
    baseline REAL,
    top_columns TEXT NOT NULL,
    summary TEXT NOT NULL,
    PRIMARY KEY (run_id, batch)
)
"""
_COLUMNS = (
    "run_id",
    "batch",
    "seq",
    "created",
    "status",
    "kind",
    "rows",
    "drift_share",
    "n_drifted",
    "metric",
    "metric_value",
    "baseline",
    "top_columns",
    "summary",
)


def _connect(ws: Workspace) -> Any:
    con = db.connect(ws.index_path)
    try:
        con.execute(_SCHEMA)
        _cache(ws).sync(con)
    except BaseException:
        con.close()
        raise
    return con


def _apply(con: Any, rec: Mapping[str, Any]) -> None:
    """Replay one logged :func:`record_history` call (it replaces that run's rows)."""
    try:
        run_id = rec["run_id"]
        rows = [
            tuple(
                json.dumps(r["top_columns"]) if c == "top_columns" else r.get(c)
                for c in _COLUMNS[1:]
            )
            for r in rec["rows"]
        ]
    except (KeyError, TypeError, AttributeError):
        return
    con.execute("DELETE FROM monitor_history WHERE run_id = ?", (run_id,))
    con.executemany(
        "INSERT OR REPLACE INTO monitor_history VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [(run_id, *r) for r in rows],
    )


def _legacy(con: Any) -> list[dict[str, Any]]:
    """A history written before the log existed, as log records (one per run)."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for r in con.execute("SELECT * FROM monitor_history ORDER BY created, run_id, seq"):
        row = dict(zip(_COLUMNS, tuple(r), strict=True))
        row["top_columns"] = json.loads(row["top_columns"])
        runs.setdefault(row.pop("run_id"), []).append(row)
    return [{"run_id": run_id, "rows": rows} for run_id, rows in runs.items()]


def _reset(con: Any) -> None:
    con.execute("DELETE FROM monitor_history")


def _cache(ws: Workspace) -> LogCache:
    """``monitor_history`` in the index, as the cache of ``workspace/monitoring/history.jsonl``."""
    return LogCache("monitoring", ws.monitoring_log, _reset, _apply, _legacy)


def rebuild(ws: Workspace) -> int:
    """Re-derive ``monitor_history`` in the index from the log; returns the lines replayed
    (``nbtrail index rebuild`` calls this)."""
    con = _connect(ws)
    try:
        return _cache(ws).rebuild(con)
    finally:
        con.close()


def record_history(
    ws: Workspace,
    run_id: str,
    verdicts: Sequence[Verdict],
    *,
    created: str | None = None,
    top_k: int = 5,
) -> None:
    """Store one row per batch of ``run_id`` (replacing that run's earlier rows): appended to
    ``workspace/monitoring/history.jsonl``, then replayed into the index's cache of it."""
    when = created or datetime.now(UTC).isoformat(timespec="seconds")
    rows = [
        {
            "batch": v.batch,
            "seq": i,
            "created": when,
            "status": v.status,
            "kind": v.kind,
            "rows": v.rows,
            "drift_share": v.drift_share,
            "n_drifted": len(v.drifted_columns),
            "metric": v.metric,
            "metric_value": v.metric_value,
            "baseline": v.baseline,
            "top_columns": list(v.top_columns(top_k)),
            "summary": v.summary,
        }
        for i, v in enumerate(verdicts)
    ]
    con = _connect(ws)  # a pre-log history is copied into the log before this call's line
    try:
        with log_writer(ws.monitoring_log) as append:
            append({"run_id": run_id, "rows": rows})
        _cache(ws).sync(con)
    finally:
        con.close()


def load_history(ws: Workspace, limit: int | None = None) -> pd.DataFrame:
    """The monitoring history, oldest first (the last ``limit`` rows if given)."""
    cols = list(_COLUMNS)
    if not Path(ws.index_path).exists() and not log_size(ws.monitoring_log):
        return pd.DataFrame(columns=cols)
    con = _connect(ws)
    try:
        rows = con.execute("SELECT * FROM monitor_history ORDER BY created, run_id, seq").fetchall()
    finally:
        con.close()
    df = pd.DataFrame([tuple(r) for r in rows], columns=cols)
    df["top_columns"] = df["top_columns"].map(json.loads)
    return df.tail(limit).reset_index(drop=True) if limit else df


def format_history(history: pd.DataFrame) -> str:
    """The history as text lines (for ``nbtrail runs --stage monitor`` or a log)."""
    if history.empty:
        return "no monitoring history yet"
    lines = [f"{'created':19s}  {'run':30s}  {'batch':18s}  {'status':6s}  share  accuracy  top"]
    for r in history.itertuples():
        acc = "" if pd.isna(r.metric_value) else f"{r.metric_value:.3f}"
        lines.append(
            f"{r.created[:19]:19s}  {r.run_id:30s}  {r.batch[:18]:18s}  {r.status:6s}  "
            f"{r.drift_share:5.0%}  {acc:8s}  {', '.join(r.top_columns[: min(3, r.n_drifted)])}"
        )
    return "\n".join(lines)


def plot_history(history: pd.DataFrame, *, drift_share_fail: float = 0.0) -> Figure:
    """Drift share and accuracy per batch over time, colored by verdict, top columns named."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5.5), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    if history.empty:
        ax1.set_title("no monitoring history yet")
        return fig
    x = np.arange(len(history))
    labels = [
        f"{b[:18]}\n{c[5:16].replace('T', ' ')}"
        for b, c in zip(history["batch"], history["created"], strict=True)
    ]
    palette = {FAIL: "tab:red", WARN: "tab:orange", PASS: "tab:green"}
    colors = [palette.get(s, "grey") for s in history["status"]]
    share = history["drift_share"].astype(float)
    top = max(0.2, float(share.max()) * 1.6)
    ax1.bar(x, share, color=colors, width=0.6)
    ax1.scatter(x, share, c=colors, zorder=3, s=18)
    if drift_share_fail > 0:
        ax1.axhline(drift_share_fail, color="grey", ls="--", lw=1, label="fail threshold")
        ax1.legend(loc="upper left")
    for xi, sh, cols, n in zip(x, share, history["top_columns"], history["n_drifted"], strict=True):
        if n and cols:
            text = cols[0][:16] + (f" +{n - 1}" if n > 1 else "")
            ax1.annotate(
                text,
                (xi, sh),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=6.5,
            )
    ax1.set_ylabel("share of drifted columns")
    ax1.set_ylim(0, top)
    ax1.set_title("monitoring history (red: failed, orange: warning, green: passed)")
    has = history["metric_value"].notna().to_numpy()
    if has.any():
        ax2.plot(x[has], history.loc[has, "metric_value"], "-", color="lightgrey", zorder=1)
        ax2.scatter(
            x[has],
            history.loc[has, "metric_value"],
            c=np.array(colors)[has],
            zorder=2,
            label="batch accuracy",
        )
        ax2.plot(x[has], history.loc[has, "baseline"], "k--", lw=1, label="baseline")
        ax2.legend(loc="lower left")
    ax2.set_ylabel("accuracy")
    ax2.set_ylim(0, 1.02)
    ax2.set_xticks(x, labels, fontsize=7, rotation=30, ha="right")
    return fig
