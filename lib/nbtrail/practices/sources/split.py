"""Splitting a frame into train, holdout and reference rows (the ``_split`` column).

``random`` (the default): stratified by the target when it has at most 20 distinct values,
seeded, so a re-run gives the same rows.

``time``: by the calendar of ``time_column``: the oldest rows train, then the reference rows
production batches are compared with, and the newest rows are the holdout, so evaluation
scores the model on a future it never saw and the reference sits between the model's past
and that future. Rows sharing a timestamp stay in one split (a boundary moves to the start of
their run), so every train time is earlier than every reference time, and every reference time
earlier than every holdout time. A missing time refuses the split.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbtrail.core.errors import DataError, ParameterError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SPLIT_COLUMN = "_split"
SPLIT_METHODS = ("random", "time")


def split(
    frame: pd.DataFrame,
    *,
    target: str,
    holdout_fraction: float,
    reference_fraction: float,
    seed: int,
    method: str = "random",
    time_column: str | None = None,
) -> pd.DataFrame:
    """The rows of ``frame`` (index reset) with ``_split``: train / holdout / reference."""
    import numpy as np

    for name, value in (
        ("holdout_fraction", holdout_fraction),
        ("reference_fraction", reference_fraction),
    ):
        if not 0 < value < 0.5:
            raise ParameterError(f"{name} must be between 0 and 0.5, got {value}", parameter=name)
    check_method(method, time_column)
    out = frame.reset_index(drop=True).copy()
    n = len(out)
    labels = np.array(["train"] * n, dtype=object)
    if method == "time":
        assert time_column is not None  # check_method refused a time split without one
        _by_time(out[time_column], labels, holdout_fraction, reference_fraction)
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


def check_method(method: str, time_column: str | None) -> None:
    """``split`` is ``random`` or ``time``; ``time`` needs a ``time_column`` and only it uses one."""
    if method not in SPLIT_METHODS:
        raise ParameterError(
            f"split must be one of {', '.join(SPLIT_METHODS)}, got {method!r}", parameter="split"
        )
    if method == "time" and time_column is None:
        raise ParameterError(
            "split 'time' needs a time_column", parameter="time_column", hint="set data.time_column"
        )
    if method == "random" and time_column is not None:
        raise ParameterError(
            f"time_column {time_column!r} is set but split is 'random'",
            parameter="split",
            hint="set data.split=time for a split by the calendar, or unset time_column",
        )


def _by_time(
    times: pd.Series, labels: np.ndarray, holdout_fraction: float, reference_fraction: float
) -> None:
    import numpy as np

    missing = int(times.isna().sum())
    if missing:
        raise DataError(
            f"time_column {times.name!r} has {missing} missing values: those rows have no place "
            "in a split by time",
            hint="fill or drop them in the source",
        )
    n = len(times)
    order = np.argsort(times.to_numpy(), kind="stable")
    ordered = times.to_numpy()[order]
    n_hold, n_ref = int(round(n * holdout_fraction)), int(round(n * reference_fraction))
    ref_start = _tie_start(ordered, n - n_hold - n_ref)
    hold_start = _tie_start(ordered, n - n_hold)
    sizes = {"train": ref_start, "reference": hold_start - ref_start, "holdout": n - hold_start}
    empty = [k for k, v in sizes.items() if v == 0]
    if empty:
        raise DataError(
            f"a split by {times.name!r} leaves no {empty[0]} rows: too many rows share a time",
            hint="use a finer time column or split=random",
        )
    labels[order[ref_start:hold_start]] = "reference"
    labels[order[hold_start:]] = "holdout"


def _tie_start(ordered: np.ndarray, cut: int) -> int:
    """``cut`` moved back to the first of the sorted rows sharing the time at ``cut``."""
    import numpy as np

    if cut <= 0 or cut >= len(ordered):
        return max(0, min(cut, len(ordered)))
    return int(np.searchsorted(ordered, ordered[cut], side="left"))


def part(snapshot: pd.DataFrame, name: str) -> pd.DataFrame:
    """One split of a snapshot, without the ``_split`` column."""
    sel = snapshot[snapshot[SPLIT_COLUMN] == name].drop(columns=[SPLIT_COLUMN])
    if len(sel) == 0:
        raise DataError(f"the snapshot has no {name!r} rows")
    return sel.reset_index(drop=True)
