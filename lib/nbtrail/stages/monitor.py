"""The monitor stage's glue: the demo batches it fabricates, and one call per notebook cell
(batches in, verdicts recorded, reports saved, history kept, the verdict enforced).

The statistics live in :mod:`nbtrail.practices.monitoring`; this module decides what the
stage does with them.

**Demo batches.** With ``batch = "demo"`` the stage fabricates three batches from the
reference split and expects ``clean`` to pass and the two drifted ones to fail. Which
columns the drift touches is chosen from the data, never named in code (:func:`demo_plan`):

- the covariate drift shifts the first ``n_drift`` numeric feature columns (in the order
  the features are given) whose reference standard deviation is positive;
- the concept drift flips the labels where the numeric feature most correlated with the
  label (largest ``|Pearson r|`` on the reference, the first on a tie; the first shiftable
  column when there is no numeric label) is above its reference median.

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

Show = Callable[[Any], object]


# -- demo batches -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoPlan:
    """What the demo batches inject, chosen from the data by :func:`demo_plan`."""

    drift_columns: tuple[str, ...]  # shifted in ``covariate_drift``
    shift_sd: float  # by this many reference standard deviations
    segment_column: str  # ``concept_drift`` flips labels where this is above its median
    segment_median: float
    rows: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drift_columns": list(self.drift_columns)}

    def describe(self) -> str:
        """One line: what each drifted batch changes."""
        return (
            f"demo: covariate_drift shifts {', '.join(self.drift_columns)} by "
            f"{self.shift_sd:g} reference SD; concept_drift flips labels where "
            f"{self.segment_column} > {self.segment_median:.4g}"
        )


def _shiftable(reference: pd.DataFrame, features: Sequence[str]) -> list[str]:
    """The numeric features with a positive reference standard deviation, in order."""
    numeric = [c for c, k in mon.column_kinds(reference, features).items() if k == "num"]
    sd = reference[numeric].std()
    return [c for c in numeric if float(sd[c]) > 0]


def _segment_column(reference: pd.DataFrame, shiftable: list[str], target: str) -> str:
    """The shiftable column most correlated with a numeric label (the first one otherwise)."""
    if target not in reference.columns or not pd.api.types.is_numeric_dtype(reference[target]):
        return shiftable[0]
    y = reference[target].astype(float)
    r = reference[shiftable].astype(float).corrwith(y).abs().fillna(0.0)
    return str(r.idxmax()) if float(r.max()) > 0 else shiftable[0]


def _continuous(column: pd.Series, min_distinct: int = 20) -> bool:
    """A numeric column with many distinct values, not all of them whole numbers."""
    values = column.dropna().to_numpy(dtype=float)
    if len(np.unique(values)) <= min_distinct:
        return False
    return not np.all(np.equal(np.mod(values, 1), 0))


def demo_plan(
    reference: pd.DataFrame,
    *,
    target: str = "target",
    features: Sequence[str] | None = None,
    n_drift: int = 3,
    shift_sd: float = 1.0,
    rows: int = 200,
    seed: int = 0,
) -> DemoPlan:
    """The columns the demo batches drift, chosen predictably from ``reference`` (see the
    module docstring). ``features`` defaults to the monitored columns of the reference."""
    features = list(features) if features is not None else mon.feature_columns(reference, target)
    shiftable = _shiftable(reference, features)
    if not shiftable:
        raise DataError(
            "demo batches need a numeric column that varies in the reference",
            hint="monitor real batches instead (set monitor.batch)",
        )
    segment = _segment_column(reference, shiftable, target)
    return DemoPlan(
        drift_columns=tuple(shiftable[: max(1, int(n_drift))]),
        shift_sd=float(shift_sd),
        segment_column=segment,
        segment_median=float(reference[segment].median()),
        rows=int(rows),
        seed=int(seed),
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

    - ``clean``: ``rows`` rows drawn with replacement from the reference, each numeric value
      jittered by Gaussian noise of 5% of the column's reference SD (a smoothed bootstrap:
      the reference distribution, not the reference rows).
    - ``covariate_drift``: like ``clean``, then the plan's ``drift_columns`` shifted by
      ``shift_sd`` reference standard deviations. Labels are the true ones.
    - ``concept_drift``: like ``clean`` (inputs unchanged), but the labels of the segment
      ``segment_column > its reference median`` are flipped: the relation between inputs and
      label changed there.
    """
    features = list(features) if features is not None else mon.feature_columns(reference, target)
    if plan is None:
        plan = demo_plan(reference, target=target, features=features, **plan_kw)
    rng = np.random.default_rng(plan.seed)
    numeric = [c for c, k in mon.column_kinds(reference, features).items() if k == "num"]
    sd = reference[numeric].std().fillna(0.0)
    # Jitter only continuous columns: noise on a count or a code (few distinct values) is
    # itself a change of distribution that a KS test rightly detects.
    smooth = [c for c in numeric if _continuous(reference[c])]
    kept = [c for c in reference.columns if c in features or c == target]

    def draw() -> pd.DataFrame:
        idx = rng.integers(0, len(reference), size=plan.rows)
        df = reference.iloc[idx].reset_index(drop=True)[kept].copy()
        noise = rng.normal(size=(plan.rows, len(smooth))) * (NOISE_SD * sd[smooth].to_numpy())
        df[smooth] = df[smooth].to_numpy(dtype=float) + noise
        return df

    cols = list(plan.drift_columns)
    clean = draw()
    covariate = draw()
    covariate[cols] = covariate[cols] + plan.shift_sd * sd[cols].to_numpy()
    concept = draw()
    if target in concept.columns:
        segment = concept[plan.segment_column] > plan.segment_median
        flipped = _flip_labels(concept.loc[segment, target], reference[target])
        concept.loc[segment, target] = flipped
    return {"clean": clean, "covariate_drift": covariate, "concept_drift": concept}


# -- the notebook's cells ---------------------------------------------------------------------


def _display(show: Show | None) -> Show:
    if show is not None:
        return show
    from IPython.display import display

    return display


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
) -> dict[str, pd.DataFrame]:
    """The batches to monitor. ``demo``: fabricated (:func:`demo_batches`), versioned in the
    store as ``demo_<kind>`` and their plan recorded; otherwise read from the datasets,
    files and folders ``batch`` names (the files recorded)."""
    if batch == DEMO:
        plan = demo_plan(
            reference, target=target, features=features, shift_sd=shift_sd, rows=rows, seed=seed
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
            accuracy=v.metric_value,
            summary=v.summary,
        )
        print(v.summary)
    accuracies = [v.metric_value for v in verdicts if v.metric_value is not None]
    run.log_metrics(
        {
            "batches": len(verdicts),
            "batches_failed": sum(not v.passed for v in verdicts),
            "max_drift_share": max(v.drift_share for v in verdicts),
            "min_batch_accuracy": min(accuracies) if accuracies else None,
        }
    )
    return verdicts


def show_column_tests(verdicts: Sequence[mon.Verdict], show: Show | None = None) -> None:
    """Per batch: its checks, and the six columns with the largest effect."""
    show = _display(show)
    formats = {"statistic": "{:.3f}", "p_value": "{:.2g}", "effect": "{:.3f}"}
    for v in verdicts:
        print(f"{v.batch}: {', '.join(f'{c.name} {c.status}' for c in v.checks)}")
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
