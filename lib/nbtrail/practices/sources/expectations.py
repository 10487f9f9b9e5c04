"""The data stage's expectations: checks on the prepared frame, each recorded as a verdict.

A failed check raises one :class:`DataError` naming it, so nothing is written (the run is
recorded failed): too few rows, null or constant targets, all-null columns, too many missing
values (only when ``max_missing_share`` is set), duplicated ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbtrail.core.errors import DataError, ParameterError

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Expectations:
    """What the data stage checks before it writes a snapshot."""

    target: str
    id_column: str | None = None
    time_column: str | None = None
    min_rows: int = 50
    max_missing_share: float | None = None  # None: missing values are imputed in training
    min_class_rows: int = 10  # a class target needs this many rows of each class
    results: list[dict[str, Any]] = field(default_factory=list)

    def check(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        """Each expectation as {name, passed, detail}; raises DataError on the fatal ones."""
        named = (self.target, "target"), (self.id_column, "id_column")
        for col, what in (*named, (self.time_column, "time_column")):
            if col is not None and col not in frame.columns:
                raise ParameterError(
                    f"{what} {col!r} is not a column of the source",
                    parameter=what,
                    hint=f"columns: {', '.join(map(str, frame.columns[:20]))}",
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
        all_null = [str(c) for c in frame.columns if frame[c].isna().all()]
        add("no_all_null_columns", not all_null, ", ".join(all_null) or "none")
        shares = frame.isna().mean()
        worst = shares.idxmax() if len(shares) else None
        top = float(shares.max()) if len(shares) else 0.0
        limit = self.max_missing_share
        add(
            "missing_share",
            limit is None or top <= limit,
            f"max {top:.3f} in {worst!r} ({'no limit' if limit is None else f'limit {limit}'})",
        )
        if self.id_column is not None:
            dup = int(frame[self.id_column].duplicated().sum())
            add("unique_ids", dup == 0, f"{dup} duplicated ids")
        distinct = int(frame[self.target].nunique())
        add(
            "target_has_two_values",
            distinct >= 2,
            f"{distinct} distinct values"
            if distinct >= 2
            else f"target {self.target!r} is constant ({distinct} distinct value)",
        )
        if distinct >= 2:
            add("rows_per_class", *self._rows_per_class(frame))
        self.results = out
        failed = [r for r in out if not r["passed"]]
        if failed:
            first = failed[0]
            raise DataError(
                f"data expectation {first['name']!r} failed: {first['detail']}",
                hint="fix the source or relax the data stage's parameters",
            )
        return out

    def _rows_per_class(self, frame: pd.DataFrame) -> tuple[bool, str]:
        """A class target needs ``min_class_rows`` rows of every class to be split into
        train, reference and holdout and cross-validated; a numeric target is not checked."""
        from nbtrail.practices.tasks import task_of

        y = frame[self.target].dropna()
        if task_of(y) == "regression":
            return True, "numeric target: not a class target"
        counts = y.value_counts()
        small = counts[counts < self.min_class_rows]
        if small.empty:
            return True, f"{len(counts)} classes, the smallest with {int(counts.min())} rows"
        shown = ", ".join(f"{k!r} ({v})" for k, v in small.head(5).items())
        more = f" and {len(small) - 5} more" if len(small) > 5 else ""
        return False, (
            f"{len(small)} of {len(counts)} classes of {self.target!r} have fewer than "
            f"{self.min_class_rows} rows: {shown}{more} (merge or drop them, or lower "
            "data.min_class_rows)"
        )
