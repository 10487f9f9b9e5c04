"""Loading a stage's source data, checking basic expectations, and splitting it.

A source is ``sklearn:<name>`` (a dataset that ships with scikit-learn, available offline),
a dataset version in the store (``dataset:<name>[@version]``), or a path to a CSV or Parquet
file (relative to the workspace root).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrail.core.errors import DataError, ParameterError

if TYPE_CHECKING:
    import pandas as pd

SPLIT_COLUMN = "_split"
SKLEARN_SOURCES = ("breast_cancer", "wine", "diabetes", "iris")


def snake(name: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", name.strip()).strip("_").lower()


def load_source(source: str, root: Path) -> pd.DataFrame:
    """The raw frame named by ``source``."""
    import pandas as pd

    if source.startswith("sklearn:"):
        from sklearn import datasets

        name = source.split(":", 1)[1]
        if name not in SKLEARN_SOURCES:
            raise ParameterError(
                f"unknown scikit-learn dataset {name!r}",
                parameter="source",
                hint=f"use one of: {', '.join('sklearn:' + n for n in SKLEARN_SOURCES)}",
            )
        bunch = getattr(datasets, f"load_{name}")(as_frame=True)
        frame = bunch.frame.copy()
        frame.columns = [snake(c) for c in frame.columns]
        return frame
    path = Path(source)
    if not path.is_absolute():
        path = root / path
    if not path.is_file():
        raise DataError(f"source file not found: {source}", hint="set the data stage's `source`")
    if path.stat().st_size == 0:
        raise DataError(f"source file is empty: {source}")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
    except Exception as exc:  # pandas raises many parser errors
        raise DataError(f"cannot read {source}: {str(exc).splitlines()[0]}") from exc
    raise DataError(f"unsupported source format {path.suffix!r}", hint="use .csv or .parquet")


@dataclass
class Expectations:
    """What the data stage checks before it writes a snapshot."""

    target: str
    id_column: str | None = None
    time_column: str | None = None
    min_rows: int = 50
    max_missing_share: float = 0.2
    results: list[dict[str, Any]] = field(default_factory=list)

    def check(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        """Each expectation as {name, passed, detail}; raises DataError on the fatal ones."""
        for col, what in ((self.target, "target"), (self.id_column, "id_column")):
            if col is not None and col not in frame.columns:
                raise ParameterError(
                    f"{what} {col!r} is not a column of the source",
                    parameter=what,
                    hint=f"columns: {', '.join(map(str, frame.columns[:20]))}",
                )
        if self.time_column is not None and self.time_column not in frame.columns:
            raise ParameterError(
                f"time_column {self.time_column!r} is not a column of the source",
                parameter="time_column",
            )
        out = []

        def add(name: str, passed: bool, detail: str) -> None:
            out.append({"name": name, "passed": bool(passed), "detail": detail})

        add("min_rows", len(frame) >= self.min_rows, f"{len(frame)} rows (min {self.min_rows})")
        add(
            "target_not_null",
            not frame[self.target].isna().any(),
            f"{int(frame[self.target].isna().sum())} null targets",
        )
        all_null = [c for c in frame.columns if frame[c].isna().all()]
        add("no_all_null_columns", not all_null, ", ".join(all_null) or "none")
        shares = frame.isna().mean()
        worst = shares.idxmax() if len(shares) else None
        add(
            "missing_share",
            bool(shares.max() <= self.max_missing_share) if len(shares) else True,
            f"max {float(shares.max()):.3f} in {worst!r} (limit {self.max_missing_share})",
        )
        if self.id_column is not None:
            dup = int(frame[self.id_column].duplicated().sum())
            add("unique_ids", dup == 0, f"{dup} duplicated ids")
        add(
            "target_has_two_values",
            frame[self.target].nunique() >= 2,
            f"{frame[self.target].nunique()} distinct values",
        )
        self.results = out
        failed = [r for r in out if not r["passed"]]
        if failed:
            first = failed[0]
            raise DataError(
                f"data expectation {first['name']!r} failed: {first['detail']}",
                hint="fix the source or relax the data stage's parameters",
            )
        return out


def split(
    frame: pd.DataFrame,
    *,
    target: str,
    holdout_fraction: float,
    reference_fraction: float,
    seed: int,
    time_column: str | None = None,
) -> pd.DataFrame:
    """Add ``_split`` (train / holdout / reference): by time when a time column is given,
    else stratified at random by the target when it is categorical."""
    import numpy as np

    for name, value in (
        ("holdout_fraction", holdout_fraction),
        ("reference_fraction", reference_fraction),
    ):
        if not 0 < value < 0.5:
            raise ParameterError(f"{name} must be between 0 and 0.5, got {value}", parameter=name)
    out = frame.reset_index(drop=True).copy()
    n = len(out)
    labels = np.array(["train"] * n, dtype=object)
    if time_column is not None:
        order = np.argsort(out[time_column].to_numpy(), kind="stable")
        n_ref = int(round(n * reference_fraction))
        n_hold = int(round(n * holdout_fraction))
        labels[order[n - n_ref :]] = "reference"
        labels[order[n - n_ref - n_hold : n - n_ref]] = "holdout"
    else:
        rng = np.random.default_rng(seed)
        y = out[target]
        groups = [np.flatnonzero((y == v).to_numpy()) for v in sorted(y.unique())]
        if y.nunique() > 20:  # numeric target: one group
            groups = [np.arange(n)]
        for idx in groups:
            idx = rng.permutation(idx)
            k_hold = int(round(len(idx) * holdout_fraction))
            k_ref = int(round(len(idx) * reference_fraction))
            labels[idx[:k_hold]] = "holdout"
            labels[idx[k_hold : k_hold + k_ref]] = "reference"
    out[SPLIT_COLUMN] = labels
    return out


def part(snapshot: pd.DataFrame, name: str) -> pd.DataFrame:
    """One split of a snapshot, without the ``_split`` column."""
    sel = snapshot[snapshot[SPLIT_COLUMN] == name].drop(columns=[SPLIT_COLUMN])
    if len(sel) == 0:
        raise DataError(f"the snapshot has no {name!r} rows")
    return sel.reset_index(drop=True)
