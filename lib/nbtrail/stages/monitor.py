"""The monitor stage's glue: the demo batches it fabricates, and one call per notebook cell
(batches in, verdicts recorded, reports saved, history kept, the verdict enforced).

The statistics live in :mod:`nbtrail.practices.monitoring`; this module decides what the
stage does with them.

**Demo batches.** With ``batch = "demo"`` the stage fabricates three batches from the
reference split and expects ``clean`` to pass and the two drifted ones to fail. Which
columns the drift touches is chosen from the data, never named in code (:func:`demo_plan`):

- the covariate drift shifts the first ``n_drift`` numeric feature columns (in the order
  the features are given, continuous ones before discrete ones) whose reference standard
  deviation is positive;
- the concept drift changes the target where the numeric feature most correlated with the
  label (largest ``|Pearson r|`` on the reference, the first on a tie; the first shiftable
  column when there is no numeric label) is above its reference median: a classifier's
  labels are permuted among the classes there (each to the next class seen: the other one,
  for a binary label), a regression's target is shifted by ``target_shift_sd`` reference
  standard deviations of the target.

A numeric column is *continuous* when it has more than 20 distinct values, not all whole
numbers, and no value holds more than ``MAX_TIE_SHARE`` of its reference rows; the others (a
0/1 flag, a count, a coded category) are *discrete*: the clean batch resamples them without
jitter, since jitter would smear their point masses and KS would call that drift.

The plan is recorded in the run (``demo_batches``), so a reader knows what was injected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from nbtrail.core.errors import DataError
from nbtrail.notebook.run import Run
from nbtrail.practices import monitoring as mon
from nbtrail.practices.reports import show_report

DEMO = "demo"  # the ``batch`` parameter value that fabricates the demo batches
DEMO_KINDS = ("clean", "covariate_drift", "concept_drift")
DEMO_EXPECTED = {"clean": mon.PASS, "covariate_drift": mon.FAIL, "concept_drift": mon.FAIL}
DEMO_LINE = "demo batches: each got its expected verdict (the drifted ones fail)"
NOISE_SD = 0.05  # the clean batch's jitter, in reference standard deviations
MAX_TIE_SHARE = 0.1  # a numeric column with a value this common is discrete: not jittered
TARGET_SHIFT_SD = 2.0  # a regression's concept drift, in reference SDs of the target

Show = Callable[[Any], object]


# -- demo batches -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoPlan:
    """What the demo batches inject, chosen from the data by :func:`demo_plan`."""

    drift_columns: tuple[str, ...]  # shifted in ``covariate_drift``
    shift_sd: float  # by this many reference standard deviations
    segment_column: str  # ``concept_drift`` changes the target where this is above its median
    segment_median: float
    rows: int
    seed: int
    task: str = mon.BINARY  # binary, multiclass (labels permuted), regression (target shifted)
    target_shift: float = 0.0  # regression: added to the segment's target (k target SDs)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drift_columns": list(self.drift_columns)}

    def describe(self) -> str:
        """One line: what each drifted batch changes."""
        change = (
            f"shifts the target by {self.target_shift:.4g}"
            if self.task == mon.REGRESSION
            else "flips labels"
            if self.task == mon.BINARY
            else "permutes labels among classes"
        )
        return (
            f"demo: covariate_drift shifts {', '.join(self.drift_columns)} by "
            f"{self.shift_sd:g} reference SD; concept_drift {change} where "
            f"{self.segment_column} > {self.segment_median:.4g}"
        )


def _numeric(reference: pd.DataFrame, features: Sequence[str]) -> list[str]:
    return [c for c, k in mon.column_kinds(reference, features).items() if k == "num"]


def _continuous(column: pd.Series, min_distinct: int = 20) -> bool:
    """A numeric column with many distinct values, not all of them whole numbers, none of
    them on more than ``MAX_TIE_SHARE`` of the rows (a 0/1 flag, a count or a coded category
    is not; see the module docstring)."""
    values = column.dropna().to_numpy(dtype=float)
    distinct, counts = np.unique(values, return_counts=True)
    if len(distinct) <= min_distinct or np.all(np.equal(np.mod(values, 1), 0)):
        return False
    return float(counts.max()) <= MAX_TIE_SHARE * len(values)


def _shiftable(reference: pd.DataFrame, features: Sequence[str]) -> list[str]:
    """The numeric features with a positive reference standard deviation, continuous ones
    first (each group in the features' order)."""
    numeric = _numeric(reference, features)
    sd = reference[numeric].astype(float).std()
    varying = [c for c in numeric if float(sd[c]) > 0]
    return sorted(varying, key=lambda c: not _continuous(reference[c]))


def _segment_column(reference: pd.DataFrame, shiftable: list[str], target: str) -> str:
    """The shiftable column most correlated with a numeric label (the first one otherwise)."""
    if target not in reference.columns or not pd.api.types.is_numeric_dtype(reference[target]):
        return shiftable[0]
    y = reference[target].astype(float)
    r = reference[shiftable].astype(float).corrwith(y).abs().fillna(0.0)
    return str(r.idxmax()) if float(r.max()) > 0 else shiftable[0]


def demo_plan(
    reference: pd.DataFrame,
    *,
    target: str = "target",
    features: Sequence[str] | None = None,
    n_drift: int = 3,
    shift_sd: float = 1.0,
    rows: int = 200,
    seed: int = 0,
    task: str | None = None,
    target_shift_sd: float = TARGET_SHIFT_SD,
) -> DemoPlan:
    """The columns the demo batches drift, chosen predictably from ``reference`` (see the
    module docstring). ``features`` defaults to the monitored columns of the reference;
    ``task`` (``binary``, ``multiclass``, ``regression``, or ``classification``) to the
    target's (:func:`~nbtrail.practices.monitoring.target_task`)."""
    features = list(features) if features is not None else mon.feature_columns(reference, target)
    has_target = target in reference.columns
    if task is None and has_target:
        task = mon.target_task(reference[target])
    elif task == mon.CLASSIFICATION and has_target:
        task = mon.MULTICLASS if reference[target].nunique() > 2 else mon.BINARY
    task = mon.monitor_task(None, task) or mon.BINARY
    shiftable = _shiftable(reference, features)
    if not shiftable:
        raise DataError(
            "demo batches need a numeric column that varies in the reference",
            hint="monitor real batches instead (set monitor.batch)",
        )
    segment = _segment_column(reference, shiftable, target)
    target_sd = float(reference[target].std()) if task == mon.REGRESSION and has_target else 0.0
    return DemoPlan(
        drift_columns=tuple(shiftable[: max(1, int(n_drift))]),
        shift_sd=float(shift_sd),
        segment_column=segment,
        segment_median=float(reference[segment].median()),
        rows=int(rows),
        seed=int(seed),
        task=task,
        target_shift=float(target_shift_sd) * target_sd,
    )


def _flip_labels(labels: pd.Series, classes: pd.Series) -> pd.Series:
    """Each label replaced by the next of the ``classes`` seen (the other one, for a binary
    label)."""
    seen = sorted(classes.dropna().unique())
    if len(seen) < 2:
        return labels
    following = dict(zip(seen, seen[1:] + seen[:1], strict=True))
    return labels.map(following)


def demo_batches(
    reference: pd.DataFrame,
    plan: DemoPlan | None = None,
    *,
    target: str = "target",
    features: Sequence[str] | None = None,
    **plan_kw: Any,
) -> dict[str, pd.DataFrame]:
    """Three production batches derived from the reference split, deterministic by the
    plan's seed (``plan`` defaults to :func:`demo_plan` of ``plan_kw``).

    - ``clean``: ``rows`` rows drawn with replacement from the reference, each value of a
      continuous numeric column jittered by Gaussian noise of 5% of the column's reference SD
      (a smoothed bootstrap: the reference distribution, not the reference rows); discrete
      numeric columns, categories, booleans, datetimes and missing values as drawn.
    - ``covariate_drift``: like ``clean``, then the plan's ``drift_columns`` shifted by
      ``shift_sd`` reference standard deviations. Labels are the true ones.
    - ``concept_drift``: like ``clean`` (inputs unchanged), but in the segment
      ``segment_column > its reference median`` the labels are permuted among the classes
      (a classifier) or the target is shifted by ``target_shift`` (a regression): the
      relation between inputs and target changed there.
    """
    features = list(features) if features is not None else mon.feature_columns(reference, target)
    if plan is None:
        plan = demo_plan(reference, target=target, features=features, **plan_kw)
    rng = np.random.default_rng(plan.seed)
    numeric = _numeric(reference, features)
    sd = reference[numeric].astype(float).std().fillna(0.0)
    # Jitter only continuous columns: noise on a count, a code or a 0/1 flag is itself a
    # change of distribution that a KS test rightly detects.
    smooth = [c for c in numeric if _continuous(reference[c])]
    kept = [c for c in reference.columns if c in features or c == target]

    def draw() -> pd.DataFrame:
        idx = rng.integers(0, len(reference), size=plan.rows)
        df = reference.iloc[idx].reset_index(drop=True)[kept].copy()
        noise = rng.normal(size=(plan.rows, len(smooth))) * (NOISE_SD * sd[smooth].to_numpy())
        df[smooth] = df[smooth].to_numpy(dtype=float, na_value=np.nan) + noise
        return df

    cols = list(plan.drift_columns)
    clean = draw()
    covariate = draw()
    shifted = covariate[cols].to_numpy(dtype=float, na_value=np.nan)
    covariate[cols] = shifted + plan.shift_sd * sd[cols].to_numpy()
    concept = draw()
    if target in concept.columns:
        segment = (concept[plan.segment_column] > plan.segment_median).fillna(False)
        segment = segment.to_numpy(dtype=bool)
        if plan.task == mon.REGRESSION:
            y = concept[target].to_numpy(dtype=float, na_value=np.nan)
            concept[target] = np.where(segment, y + plan.target_shift, y)
        else:
            flipped = _flip_labels(concept.loc[segment, target], reference[target])
            concept.loc[segment, target] = flipped
    return {"clean": clean, "covariate_drift": covariate, "concept_drift": concept}


# -- the notebook's cells ---------------------------------------------------------------------


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


def update_history(run: Run, verdicts: Sequence[mon.Verdict], *, points: int) -> pd.DataFrame:
    """Append this run's verdicts to the history; its last ``points`` rows (the last nine
    printed)."""
    mon.record_history(run.ws, run.run_id, verdicts)
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
        lines=[DEMO_LINE] if demo else [],
    )
    if demo:
        mon.check_expected(verdicts, DEMO_EXPECTED)
        print(
            "demo: every batch got its expected verdict (failures above are the point of the demo)"
        )
    elif fail_on_alarm:
        mon.raise_for_verdicts(verdicts)
        print("all batches passed")
    else:
        print("fail_on_alarm is off: verdicts recorded, not enforced")
