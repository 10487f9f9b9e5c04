"""What the data stage does with each column of a real file before it checks and splits it.

:func:`prepare_columns`, in this order (the target column is never dropped nor refused):

1. the named columns (``target``, ``id_column``, ``time_column``, ``drop_columns``) must exist
   (:class:`ParameterError` otherwise); ``drop_columns`` are dropped;
2. text columns holding dates are parsed as datetimes (the ``time_column`` must parse);
   datetime columns stay in the snapshot but are never features (the train stage drops them);
3. free-text columns (mostly unique values of three words or more on average, or long ones)
   are **refused**: one :class:`DataError` naming them, with the fix (``drop_columns``);
4. row-index and id-like columns are dropped, each with its reason: pandas' ``Unnamed: N``
   holding unique integers (a saved index) or nothing (a trailing delimiter); unique integers
   in a contiguous range or in order, or named like an id; a unique string on every row;
5. an all-null column is **refused** (one :class:`DataError` naming it): it carries nothing,
   and silently dropping it would hide a broken extract;
6. missing values are counted per column, for the record.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbtrail.core.errors import DataError, ParameterError

if TYPE_CHECKING:
    import pandas as pd

MIN_ROWS_TO_JUDGE = 20  # fewer rows: every column looks unique, nothing is called an id
TEXT_MIN_WORDS = 3.0  # mean whitespace-separated words per value for free text
TEXT_MIN_LENGTH = 50.0  # or mean characters per value
TEXT_MIN_UNIQUE = 0.5  # and at least this share of distinct values
TEXT_SAMPLE = 10_000  # values whose words and lengths are counted
DATE_MIN_PARSED = 0.95  # share of values that must parse for a text column to be dates
_UNNAMED = re.compile(r"^Unnamed: \d+$|^$|^index$|^level_0$")
_ID_NAME = re.compile(r"(^|[_\s.-])id$|^id([_\s.-]|$)|^uuid$|^guid$", re.IGNORECASE)
_CAMEL_ID = re.compile(r"[a-z](ID|Id)$")  # customerID, userId
_NUMBER = re.compile(r"^\s*[-+]?\d+(\.\d*)?\s*$")


@dataclass
class Prepared:
    """The frame after :func:`prepare_columns`, and what was done to it."""

    frame: pd.DataFrame
    dropped: list[dict[str, str]] = field(default_factory=list)  # {column, reason}
    datetimes: list[str] = field(default_factory=list)  # datetime columns (never features)
    parsed: list[str] = field(default_factory=list)  # of those, parsed from text here
    missing: dict[str, int] = field(default_factory=dict)  # column -> missing values (> 0)

    def lines(self) -> list[str]:
        """Summary lines for ``nbtrail run`` (none when nothing was dropped or parsed)."""
        out = []
        if self.dropped:
            out.append(
                "dropped columns: "
                + "; ".join(f"{d['column']} ({d['reason']})" for d in self.dropped)
            )
        if self.parsed:
            out.append("parsed as datetimes: " + ", ".join(self.parsed))
        return out

    def table(self) -> pd.DataFrame:
        """One row per column of the source: dtype, missing values, what happens to it."""
        import pandas as pd

        rows: list[dict[str, Any]] = [
            {
                "column": d["column"],
                "dtype": "",
                "missing": None,
                "action": "dropped: " + d["reason"],
            }
            for d in self.dropped
        ]
        for col in self.frame.columns:
            action = "datetime (not a feature)" if col in self.datetimes else "kept"
            rows.append(
                {
                    "column": col,
                    "dtype": str(self.frame[col].dtype),
                    "missing": self.missing.get(str(col), 0),
                    "action": action,
                }
            )
        return pd.DataFrame(rows)


def prepare_columns(
    frame: pd.DataFrame,
    *,
    target: str,
    id_column: str | None = None,
    time_column: str | None = None,
    drop_columns: list[str] | tuple[str, ...] = (),
) -> Prepared:
    """Steps 1-6 of the module docstring; the input frame is not modified."""
    require_columns(
        frame,
        target=target,
        id_column=id_column,
        time_column=time_column,
        drop_columns=list(drop_columns),
    )
    out = Prepared(frame.drop(columns=list(drop_columns)))
    out.dropped = [{"column": str(c), "reason": "listed in drop_columns"} for c in drop_columns]
    keep = {c for c in (target, id_column, time_column) if c is not None}
    _parse_datetimes(out, target=target, time_column=time_column)
    refuse_text(out.frame, skip=keep | set(out.datetimes))
    for col in list(out.frame.columns):
        if col in keep or col in out.datetimes:
            continue
        reason = index_or_id_reason(out.frame[col])
        if reason is not None:
            out.frame = out.frame.drop(columns=[col])
            out.dropped.append({"column": str(col), "reason": reason})
    all_null = [str(c) for c in out.frame.columns if c != target and out.frame[c].isna().all()]
    if all_null:
        names = ", ".join(repr(c) for c in all_null)
        raise DataError(
            f"all-null column(s) refused: {names}",
            hint=f"drop them with data.drop_columns=[{', '.join(all_null)}] or fix the source",
            columns=all_null,
        )
    counts = out.frame.isna().sum()
    out.missing = {str(c): int(n) for c, n in counts.items() if n > 0}
    return out


def require_columns(
    frame: pd.DataFrame,
    *,
    target: str,
    id_column: str | None,
    time_column: str | None,
    drop_columns: list[str],
) -> None:
    """The columns the parameters name must exist; the target may not be dropped."""
    shown = ", ".join(map(str, frame.columns[:20])) + (" ..." if frame.shape[1] > 20 else "")
    named = [("target", target), ("id_column", id_column), ("time_column", time_column)]
    named += [("drop_columns", c) for c in drop_columns]
    for what, col in named:
        if col is not None and col not in frame.columns:
            raise ParameterError(
                f"{what} {col!r} is not a column of the source",
                parameter=what,
                hint=f"columns: {shown}",
            )
    if target in drop_columns:
        raise ParameterError(f"drop_columns names the target {target!r}", parameter="drop_columns")


def _is_string(s: pd.Series) -> bool:
    import pandas as pd

    return s.dtype == object or isinstance(s.dtype, pd.StringDtype)


def _parse_datetimes(out: Prepared, *, target: str, time_column: str | None) -> None:
    import pandas as pd

    frame = out.frame
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            out.datetimes.append(str(col))
            continue
        if col == target or not _is_string(s):
            continue
        parsed = parse_dates(s)
        if parsed is None:
            if col == time_column:
                example = s.dropna().astype(str).head(1).tolist()
                raise DataError(
                    f"time_column {col!r} does not hold dates (e.g. {example[0]!r})"
                    if example
                    else f"time_column {col!r} is empty",
                    hint="name a column of dates or times, or a numeric one",
                )
            continue
        if frame is out.frame:
            frame = frame.copy()  # the first parsed column: stop sharing the input frame
        frame[col] = parsed
        out.datetimes.append(str(col))
        out.parsed.append(str(col))
    out.frame = frame


def parse_dates(s: pd.Series) -> pd.Series | None:
    """``s`` as datetimes when at least :data:`DATE_MIN_PARSED` of its non-null text values
    parse as dates (plain numbers never count), else None."""
    import pandas as pd

    values = s.dropna().astype(str)
    if len(values) == 0:
        return None
    sample = values.head(500)
    if sample.str.match(_NUMBER).any() or not sample.str.contains(r"\d").all():
        return None
    for dayfirst in (False, True):  # 05.03.2021 reads month first unless that fails
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "could not infer format": each value parsed alone
            try:
                if pd.to_datetime(sample, errors="coerce", dayfirst=dayfirst).notna().mean() < (
                    DATE_MIN_PARSED
                ):
                    continue
                parsed = pd.to_datetime(s, errors="coerce", dayfirst=dayfirst)
            except (ValueError, TypeError, OverflowError):  # e.g. mixed time zones
                return None
        if parsed.notna().sum() >= DATE_MIN_PARSED * len(values):
            return parsed
    return None


def text_reason(s: pd.Series) -> str | None:
    """Why ``s`` is free text (mostly distinct values, many words or long), or None."""
    if not _is_string(s):
        return None
    values = s.dropna().astype(str)
    if len(values) < MIN_ROWS_TO_JUDGE:
        return None
    unique = values.nunique() / len(values)
    if len(values) > TEXT_SAMPLE:  # words and lengths from a seeded sample: cheap on big files
        values = values.sample(TEXT_SAMPLE, random_state=0)
    words = float(values.str.split().str.len().mean())
    length = float(values.str.len().mean())
    if unique >= TEXT_MIN_UNIQUE and (words >= TEXT_MIN_WORDS or length >= TEXT_MIN_LENGTH):
        return f"free text: {unique:.0%} distinct, {words:.1f} words on average"
    return None


def refuse_text(frame: pd.DataFrame, *, skip: set[str]) -> None:
    """Raise one :class:`DataError` naming every free-text column not in ``skip``."""
    found = {str(c): r for c in frame.columns if c not in skip and (r := text_reason(frame[c]))}
    if found:
        raise DataError(
            "text columns are not supported: "
            + "; ".join(f"{c!r} ({r})" for c, r in found.items()),
            hint=f"drop them with data.drop_columns=[{', '.join(found)}], or turn them into "
            "features before the data stage",
            columns=list(found),
        )


def index_or_id_reason(s: pd.Series) -> str | None:
    """Why ``s`` is a row index or an id (to be dropped), or None to keep it."""
    import pandas as pd

    name = str(s.name)
    integer = pd.api.types.is_integer_dtype(s) and not pd.api.types.is_bool_dtype(s)
    if not (integer or _is_string(s) or _UNNAMED.match(name)):
        return None  # floats, booleans, dates: never an index or an id
    values = s.dropna()
    n = len(values)
    unique = n > 0 and values.nunique() == n
    if _UNNAMED.match(name):
        if n == 0:
            return "unnamed and empty: a trailing delimiter"
        if integer and unique:
            return "unnamed, unique integers: a saved row index"
    if len(s) < MIN_ROWS_TO_JUDGE or not unique or n < len(s) / 2:
        return None
    if integer:
        arr: Any = values.to_numpy()
        if int(arr.max()) - int(arr.min()) + 1 == n:
            return "unique integers in a contiguous range: a row index or an id"
        if values.is_monotonic_increasing or values.is_monotonic_decreasing:
            return "unique integers in order: a row index or an id"
        if _ID_NAME.search(name) or _CAMEL_ID.search(name):
            return "unique integers named like an id"
    elif _is_string(s):
        return "a unique string on every row: an identifier"
    return None
