"""The demo batches the monitor stage fabricates from the reference split, drifted on
columns chosen from the data (any dataset, any task).

With ``batch = "demo"`` the stage fabricates three batches from the
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

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from nbtrail.core.errors import DataError
from nbtrail.practices import monitoring as mon

DEMO = "demo"  # the ``batch`` parameter value that fabricates the demo batches
DEMO_KINDS = ("clean", "covariate_drift", "concept_drift")
DEMO_EXPECTED = {"clean": mon.PASS, "covariate_drift": mon.FAIL, "concept_drift": mon.FAIL}
NOISE_SD = 0.05  # the clean batch's jitter, in reference standard deviations
MAX_TIE_SHARE = 0.1  # a numeric column with a value this common is discrete: not jittered
TARGET_SHIFT_SD = 2.0  # a regression's concept drift, in reference SDs of the target


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
