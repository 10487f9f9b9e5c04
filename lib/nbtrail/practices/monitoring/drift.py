"""Per-column drift tests: KS for numeric columns, chi-square for categorical ones, and the
Benjamini-Hochberg correction that turns them into a ``drifted`` decision per column."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats


def column_kinds(df: pd.DataFrame, columns: Sequence[str]) -> dict[str, str]:
    """``num`` for numeric (not boolean) columns, ``time`` for datetimes (tested as numbers,
    seconds since the epoch), ``cat`` for everything else (text, booleans, categories)."""
    out = {}
    for c in columns:
        s = df[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[c] = "time"
        elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            out[c] = "num"
        else:
            out[c] = "cat"
    return out


def as_numbers(s: pd.Series) -> np.ndarray:
    """A numeric or datetime column as floats (datetimes: seconds since the epoch, UTC),
    missing values as NaN."""
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dtype, "tz", None) is not None:
            s = s.dt.tz_convert(None)
        ns = s.to_numpy(dtype="datetime64[ns]")
        out = ns.astype("int64").astype(float) / 1e9
        out[np.isnat(ns)] = np.nan
        return out
    return s.to_numpy(dtype=float, na_value=np.nan)


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
    """The non-null values of a column as floats (numeric, datetime) or strings
    (categorical)."""
    if kind in ("num", "time"):
        a = as_numbers(s)
        return a[~np.isnan(a)]
    a = s.to_numpy(dtype=object)
    return a[~pd.isna(a)].astype(str)


def column_tests(
    reference: pd.DataFrame, batch: pd.DataFrame, kinds: Mapping[str, str]
) -> pd.DataFrame:
    """One drift test per column: ``column, kind, test, statistic, p_value, effect``.

    Numeric and datetime: ``scipy.stats.ks_2samp`` (effect: the KS statistic D). Categorical:
    chi-square test of homogeneity on the 2 x k table of counts (effect: total variation
    distance).
    Nulls are left out (all-null columns are a data-quality finding, not tested here).
    """
    rows = []
    for col, kind in kinds.items():
        ref, cur = _values(reference[col], kind), _values(batch[col], kind)
        if kind in ("num", "time"):
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
    extra: Sequence[Mapping[str, object]] = (),
) -> pd.DataFrame:
    """:func:`column_tests` plus BH-adjusted p-values and the ``drifted`` decision.

    ``extra``: more rows of the same columns (the multivariate test) corrected in the same
    Benjamini-Hochberg family."""
    t = column_tests(reference, batch, kinds)
    if extra:
        t = pd.concat([t, pd.DataFrame(list(extra), columns=t.columns)], ignore_index=True)
    if t.empty:
        t["p_adjusted"] = []
        t["drifted"] = []
        return t
    t["p_adjusted"] = stats.false_discovery_control(t["p_value"].to_numpy(), method="bh")
    t["drifted"] = (t["p_adjusted"] < alpha) & (t["effect"] >= min_effect)
    return t
